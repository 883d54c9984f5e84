"""Who is asking: the server's settings, the API key a request presents, and the scope each route needs.

Every request runs :func:`authenticate` first (an app-level dependency, before the routers' project dependencies).
A presented key (``Authorization: Bearer agnt5_sk_...`` or ``X-API-KEY: agnt5_sk_...``) is always checked: a bad
one is 401. Without a key, a server that requires keys answers 401; one that does not acts as local use (the
default project, every scope). ``GET`` and ``HEAD`` need ``read``, other methods ``write``, and the routes of
:data:`ADMIN_ROUTES` (those that make the server run code or call out, and key management) ``admin``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from agnt5_evals.api.deps import get_services, principal_of, server_config
from agnt5_evals.domain.errors import Forbidden, Invalid, NotFound, Unauthorized
from agnt5_evals.domain.tenancy import Principal, Scope
from agnt5_evals.services import keys

DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
MAX_READ_THREADS = 64
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
ADMIN_ROUTES = frozenset(
    {
        ("POST", "/deployments"),  # imports a module, snapshots a folder or calls a URL
        ("POST", "/scorers"),  # custom scorers run deployed code
        ("POST", "/projects"),  # makes a project (a key reaches its own project only)
        ("GET", "/keys"),
        ("POST", "/keys"),
        ("POST", "/keys/{key_id}/revoke"),
    }
)
"""``(method, path)`` of the routes only an ``admin`` key may call, as served under ``/api/v1`` (the same under
``/api/v1/projects/{project_id}``). A path holding ``/bundles`` (code uploads) is admin too."""


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _names(value: str | None) -> tuple[str, ...]:
    return tuple(name.strip().lower() for name in (value or "").split(",") if name.strip())


@dataclass(frozen=True)
class ServerConfig:
    """What the server enforces. ``allowed_hosts`` None: any ``Host`` (an app not served on a socket: tests);
    ``module_roots`` None: a ``POST /deployments`` module may come from no folder of the server's disk."""

    require_keys: bool = False
    allowed_hosts: frozenset[str] | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    module_roots: tuple[str, ...] = ()
    read_threads: int | None = None  # None: the store's default (api.routes.READ_THREADS)

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1:
            raise Invalid(f"must be a number of bytes, got {self.max_body_bytes}", field="max_body_bytes")
        if self.read_threads is not None and not 1 <= self.read_threads <= MAX_READ_THREADS:
            raise Invalid(f"must be a number of threads from 1 to {MAX_READ_THREADS}, got {self.read_threads}",
                          field="read_threads")  # fmt: skip

    @classmethod
    def from_env(cls, check_host: bool = False) -> ServerConfig:
        """From ``AGNT5_REQUIRE_API_KEYS``, ``AGNT5_ALLOWED_HOSTS`` (comma-separated, with the local names when
        ``check_host``), ``AGNT5_MAX_BODY_BYTES``, ``AGNT5_MODULE_ROOTS`` (folders, ``os.pathsep``-separated) and
        ``AGNT5_SERVER_READ_THREADS`` (1 to 64)."""
        raw_max = os.environ.get("AGNT5_MAX_BODY_BYTES", "").strip()
        if raw_max and (not (raw_max.isascii() and raw_max.isdecimal()) or int(raw_max) < 1):
            raise Invalid(f"must be a number of bytes, got {raw_max[:40]!r}", field="AGNT5_MAX_BODY_BYTES")
        raw_threads = os.environ.get("AGNT5_SERVER_READ_THREADS", "").strip()
        number = raw_threads.isascii() and raw_threads.isdecimal()
        if raw_threads and (not number or not 1 <= int(raw_threads) <= MAX_READ_THREADS):
            raise Invalid(f"must be a number of threads from 1 to {MAX_READ_THREADS}, got {raw_threads[:40]!r}",
                          field="AGNT5_SERVER_READ_THREADS")  # fmt: skip
        hosts = frozenset(LOCAL_HOSTS + _names(os.environ.get("AGNT5_ALLOWED_HOSTS"))) if check_host else None
        roots = tuple(r for r in os.environ.get("AGNT5_MODULE_ROOTS", "").split(os.pathsep) if r.strip())
        return cls(
            require_keys=_truthy(os.environ.get("AGNT5_REQUIRE_API_KEYS")),
            allowed_hosts=hosts,
            max_body_bytes=int(raw_max) if raw_max else DEFAULT_MAX_BODY_BYTES,
            module_roots=roots,
            read_threads=int(raw_threads) if raw_threads else None,
        )


def presented_key(request: Request) -> str | None:
    """The key a request presents, if any; a credential of another form is refused."""
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("send the API key as 'Authorization: Bearer <key>' or 'X-API-KEY: <key>'")
        return token.strip()
    header = request.headers.get("x-api-key")
    return header.strip() if header is not None else None


def resource_path(path_format: str) -> str:
    """A route's path as served under ``/api/v1`` (``/api/v1/projects/{project_id}/keys`` is ``/keys``)."""
    path = path_format.removeprefix("/api/v1")
    project = "/projects/{project_id}"
    return path.removeprefix(project) if path.startswith(project + "/") else path


def needed_scope(method: str, path_format: str) -> Scope:
    """The scope a route needs: see the module's text."""
    path, method = resource_path(path_format), method.upper()
    if (method, path) in ADMIN_ROUTES or "/bundles" in path:
        return Scope.admin
    return Scope.read if method in ("GET", "HEAD", "OPTIONS") else Scope.write


BEARER = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer agnt5_sk_...`")
API_KEY = APIKeyHeader(name="X-API-KEY", auto_error=False, description="An API key: `X-API-KEY: agnt5_sk_...`")


async def authenticate(
    request: Request,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
    _api_key: Annotated[str | None, Depends(API_KEY)],
) -> None:
    """Find who the request acts as (``request.state.principal``) and check its scope covers the route.

    (``_bearer`` and ``_api_key`` only declare the two ways in the OpenAPI document; the headers are read here.)
    """
    route = request.scope.get("route")
    if getattr(route, "path_format", "").startswith("/studio"):
        return  # the Studio's pages check their own cookie, scope and CSRF token (api.studio.session)
    token = presented_key(request)
    if token is not None:
        request.state.principal = await run_in_threadpool(keys.authenticate, get_services(request), token)
    elif server_config(request).require_keys:
        raise Unauthorized("this server requires an API key (Authorization: Bearer <key> or X-API-KEY)")
    principal: Principal = principal_of(request)
    project = request.path_params.get("project_id")
    if principal.key_id is not None and project is not None and project != principal.project_id:
        raise NotFound(f"project {str(project)[:64]} not found", field="project_id")  # before the scope: nothing told
    needed = needed_scope(request.method, getattr(route, "path_format", request.url.path))
    if not principal.scope.allows(needed):
        raise Forbidden(f"this route needs a key of scope {needed.value}; this key's scope is {principal.scope.value}")
