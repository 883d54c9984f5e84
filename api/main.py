"""``create_app(settings)``: the FastAPI application, with one table mapping domain errors to HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from agnt5_evals.adapters.bootstrap import Services, Settings
from agnt5_evals.api import openapi, studio
from agnt5_evals.api.auth import ServerConfig, authenticate
from agnt5_evals.api.deps import in_own_project, in_project
from agnt5_evals.api.envelope import enveloped
from agnt5_evals.api.guards import BodyLimit, HostCheck
from agnt5_evals.api.routes import (
    READ_THREADS,
    annotating,
    audit,
    catalog,
    datasets,
    experiments,
    inline,
    keys,
    names,
    projects,
    read_limiter,
    rescores,
    runs,
    scores,
)
from agnt5_evals.domain.errors import Conflict, EvalsError, Forbidden, Invalid, NotFound, Unauthorized, Unavailable

CATCH_UP_SECONDS = 0.2
STATUS = {NotFound: 404, Conflict: 409, Invalid: 422, Unauthorized: 401, Forbidden: 403, Unavailable: 503}
PROJECT_PREFIX = "/api/v1/projects/{project_id}"
# The resource routers, mounted under both prefixes. FastAPI tries the routes of every router mounted before the one
# that answers (a few microseconds each: 80 before a run's gate when runs came fourth), so the routers of the reads
# that dashboards and CI poll come first; their paths are disjoint, so the order decides nothing else
# (tests/api/test_route_order.py).
RESOURCES = (runs, scores, datasets, catalog, experiments, rescores, annotating, audit, keys, names)


def problem(status: int, title: str, detail: str, error: dict[str, str | None]) -> JSONResponse:
    """An RFC 9457 problem body, with the error's ``message``, ``code`` and ``field`` next to its fields."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **error}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def field_of(loc: Sequence[int | str]) -> str | None:
    """A request error's location as a field: ``("body", "items", 0, "input")`` is ``items[0].input``."""
    field = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc:
        field += f"[{part}]" if isinstance(part, int) else f".{part}" if field else str(part)
    return field or None


def request_error(error: dict[str, Any]) -> dict[str, str | None]:
    """``{"message", "code", "field"}`` of one pydantic error; a malformed JSON body is the field ``body``."""
    if error["type"] == "json_invalid":
        why = (error.get("ctx") or {}).get("error", "")
        return {"message": f"malformed JSON: {why}".rstrip(": "), "code": "invalid", "field": "body"}
    return {"message": str(error["msg"]), "code": "invalid", "field": field_of(error["loc"]) or "body"}


def create_app(settings: Settings | None = None, server: ServerConfig | None = None) -> FastAPI:
    """Build the API over the stores named by ``settings`` and with the checks of ``server`` (default: the
    environment's; no ``Host`` check: see :func:`server_app` for the app ``agnt5 server`` serves)."""
    config = server or ServerConfig.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = app.state.services = Services(settings or Settings.from_env())
        read_limiter(config.read_threads or READ_THREADS[services.settings.store])  # this loop's (api.routes)
        services.start_background_catch_up(CATCH_UP_SECONDS)  # other processes' writes (workers) reach the view
        try:
            yield
        finally:
            services.close()  # stops the background catch-up first

    app = FastAPI(title="agnt5-evals", version="0.1.0", lifespan=lifespan, dependencies=[Depends(authenticate)])
    app.state.server_config = config
    app.add_middleware(BodyLimit, limit=config.max_body_bytes)
    if config.allowed_hosts is not None:
        app.add_middleware(HostCheck, allowed=config.allowed_hosts)  # added last: runs first

    @app.exception_handler(EvalsError)
    async def domain_error(request: Request, exc: EvalsError) -> JSONResponse:
        status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 400)
        response = problem(status, type(exc).__name__, str(exc), exc.as_dict())
        if status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(StoreInterfaceError)
    @app.exception_handler(StoreOperationalError)
    async def store_unavailable(request: Request, exc: Exception) -> JSONResponse:
        """A lost PostgreSQL connection, or none free in time (every connection of the pool busy with other reads),
        or a SQLite store locked by a writer past its timeout: 503, try again. Another store error is a bug: 500."""
        postgres = type(exc.__cause__).__module__.startswith("psycopg")  # the store library raises from the driver's
        if not postgres and "locked" not in str(exc) and "busy" not in str(exc):
            raise exc
        error = Unavailable("the store did not answer in time (a lost connection, or none free): try again")
        response = problem(503, "Unavailable", str(error), error.as_dict())
        response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [request_error(error) for error in exc.errors()]
        detail = "; ".join(f"{error['field']}: {error['message']}" for error in errors)
        return problem(422, "Invalid", detail, errors[0])

    for module in RESOURCES:
        app.include_router(module.router, prefix="/api/v1", dependencies=[Depends(in_own_project)])
        app.include_router(enveloped(module.router), prefix=PROJECT_PREFIX, dependencies=[Depends(in_project)])
    app.include_router(projects.router, prefix="/api/v1")
    app.include_router(inline.router, dependencies=[Depends(in_own_project)])  # the gateway's /v1/eval
    studio.install(app)  # the pages at /studio (their own sign-in: api.studio.session)
    openapi.install(app)
    return app


def server_app() -> FastAPI:
    """The app ``agnt5 server`` serves (a uvicorn factory): the environment's settings, and the ``Host`` checked
    against the local names and ``AGNT5_ALLOWED_HOSTS``. More read threads than the view's pool has connections
    would only wait for one (the reads beyond the pool's size gain nothing): refused. A read that waits past the
    connect timeout (``AGNT5_PG_CONNECT_TIMEOUT_S``; long reads in the default pool hold connections too) is a
    503 (``store_unavailable``)."""
    config, settings = ServerConfig.from_env(check_host=True), Settings.from_env()
    most = settings.connections
    if config.read_threads is not None and most is not None and config.read_threads > most:
        raise Invalid(f"must be at most {most} on PostgreSQL (the connections of the view's pool), got "
                      f"{config.read_threads}", field="AGNT5_SERVER_READ_THREADS")  # fmt: skip
    return create_app(settings, config)
