"""Who uses the Studio, in which project, and the check that a form was sent by a Studio page (CSRF).

- **The key.** When the server requires keys, the Studio asks for one (``/studio/login``) and keeps it in the
  ``agnt5_studio_key`` cookie: ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no other site's page sends
  it), path ``/studio``, ``Secure`` over HTTPS. Each request checks it again, so a revoked key ends the session.
  Without a key, on a server that does not require keys, the Studio is local use: every scope, in the project the
  ``agnt5_studio_project`` cookie names (``default`` unless one is picked).
- **CSRF.** Every page carries a token that is also in the ``agnt5_studio_csrf`` cookie. A request that changes
  something (any method but GET and HEAD) must send it back, as the ``csrf_token`` form field or the
  ``X-CSRF-Token`` header (htmx sends the header), compared in constant time. A page of another site can neither
  read the token nor send the cookies (``SameSite=Strict``), and the server's ``Host`` check refuses re-pointed names.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from agnt5_evals.api.deps import get_services, server_config
from agnt5_evals.api.studio.web import CSRF_COOKIE, PREFIX, LoginRequired, new_token
from agnt5_evals.domain.errors import Forbidden, Invalid, NotFound, Unauthorized
from agnt5_evals.domain.tenancy import DEFAULT_PROJECT, Principal, Scope, check_project_id, enter_project
from agnt5_evals.services import keys, projects

KEY_COOKIE = "agnt5_studio_key"
PROJECT_COOKIE = "agnt5_studio_project"
SAFE_METHODS = ("GET", "HEAD")


@dataclass
class Session:
    """What a Studio page acts as."""

    principal: Principal
    project_id: str
    csrf_token: str
    new_csrf: bool  # the token was made for this request: the answer sets the cookie
    keys_required: bool

    @property
    def signed_in(self) -> bool:
        return self.principal.key_id is not None

    def can(self, scope: Scope) -> bool:
        return self.principal.scope.allows(scope)


def set_cookie(response: Response, request: Request, name: str, value: str) -> None:
    """Set a Studio cookie: HttpOnly, SameSite=Strict, path /studio, Secure over HTTPS."""
    response.set_cookie(
        name, value, httponly=True, samesite="strict", path=PREFIX, secure=request.url.scheme == "https"
    )


def csrf_ok(request: Request, sent: str | None) -> bool:
    expected = request.cookies.get(CSRF_COOKIE, "")
    return bool(expected) and sent is not None and hmac.compare_digest(expected.encode(), sent.encode())


async def _session(request: Request, check_csrf: bool) -> Session:
    svc = get_services(request)
    token = request.cookies.get(CSRF_COOKIE) or ""
    new_csrf = not token
    if new_csrf:
        token = new_token()
    key = request.cookies.get(KEY_COOKIE)
    required = server_config(request).require_keys
    if key:
        try:
            principal = await run_in_threadpool(keys.authenticate, svc, key)
        except Unauthorized as exc:
            raise LoginRequired("your key is no longer valid: sign in again") from exc
        project = principal.project_id
    elif required:
        raise LoginRequired()
    else:
        principal = Principal(DEFAULT_PROJECT, Scope.admin)
        project = request.cookies.get(PROJECT_COOKIE) or DEFAULT_PROJECT
        try:
            check_project_id(project)
            await run_in_threadpool(projects.get_project, svc, project)
        except (NotFound, Invalid):
            project = DEFAULT_PROJECT
    if check_csrf and request.method not in SAFE_METHODS:
        sent = request.headers.get("x-csrf-token")
        if sent is None and "form" in request.headers.get("content-type", ""):
            sent = str((await request.form()).get("csrf_token") or "") or None
        if not csrf_ok(request, sent):
            raise Forbidden("this form is out of date or was not sent by the Studio: reload the page and try again")
    needed = Scope.read if request.method in SAFE_METHODS else Scope.write
    if not principal.scope.allows(needed):
        raise Forbidden(f"this needs a key of scope {needed.value}; this key's scope is {principal.scope.value}")
    enter_project(project)  # the handler's thread inherits it (see api.deps.in_project)
    session = Session(principal, project, token, new_csrf, required)
    request.state.studio = session
    return session


async def studio_session(request: Request) -> Session:
    """The session of a Studio page (a changing request must carry the CSRF token)."""
    return await _session(request, check_csrf=True)


async def login_session(request: Request) -> Session | None:
    """The session, when there is one, for the login page itself (which must work without a key)."""
    try:
        return await _session(request, check_csrf=False)
    except (LoginRequired, Forbidden):
        request.state.studio = None
        return None


SessionDep = Annotated[Session, Depends(studio_session)]
