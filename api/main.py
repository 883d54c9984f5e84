"""``create_app(settings)``: the FastAPI application, with one table mapping domain errors to HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from agnt5_evals.adapters.bootstrap import Services, Settings
from agnt5_evals.api.routes import annotating, catalog, datasets, experiments, rescores, runs, scores
from agnt5_evals.domain.errors import Conflict, EvalsError, Invalid, NotFound, Unavailable

CATCH_UP_SECONDS = 0.2
STATUS = {NotFound: 404, Conflict: 409, Invalid: 422, Unavailable: 503}


def problem(status: int, title: str, detail: str) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API over the stores named by ``settings`` (default: the environment)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = app.state.services = Services(settings or Settings.from_env())
        services.start_background_catch_up(CATCH_UP_SECONDS)  # other processes' writes (workers) reach the view
        try:
            yield
        finally:
            services.close()  # stops the background catch-up first

    app = FastAPI(title="agnt5-evals", version="0.1.0", lifespan=lifespan)

    @app.exception_handler(EvalsError)
    async def domain_error(request: Request, exc: EvalsError) -> JSONResponse:
        status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 400)
        return problem(status, type(exc).__name__, str(exc))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            f"{'.'.join(str(p) for p in error['loc'] if p != 'body') or 'body'}: {error['msg']}"
            for error in exc.errors()
        ]
        return problem(422, "Invalid", "; ".join(fields))

    for module in (datasets, catalog, experiments, runs, rescores, annotating, scores):
        app.include_router(module.router, prefix="/api/v1")
    return app
