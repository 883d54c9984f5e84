"""The OpenAPI document, with the errors every operation can answer: problem bodies (RFC 9457) that carry the
error's ``message``, ``code`` and ``field`` next to their fields."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict

PROBLEM_MEDIA = "application/problem+json"
ERRORS = {
    400: "Bad request (a host this server does not serve)",
    401: "No valid API key (the server requires keys, or the key is unknown or revoked)",
    403: "The key's scope does not allow this",
    404: "Unknown id, or another project's",
    409: "Conflict with stored state (immutability, duplicates, a wrong status)",
    413: "The request body is too large",
    422: "Invalid input; `field` names it",
    503: "The store is unavailable",
}


class Problem(BaseModel):
    """An error: the problem body's fields, and the error's ``message``, ``code`` and ``field`` (or null)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "about:blank",
                    "title": "NotFound",
                    "status": 404,
                    "detail": "dataset 5f1c... not found",
                    "message": "dataset 5f1c... not found",
                    "code": "not_found",
                    "field": None,
                }
            ]
        },
    )
    type: str
    title: str
    status: int
    detail: str
    message: str
    code: str
    field: str | None


def install(app: FastAPI) -> None:
    """Make ``app``'s OpenAPI document list, for every operation, the problem bodies it may answer."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, routes=app.routes, description=app.description)
            schemas = doc.setdefault("components", {}).setdefault("schemas", {})
            schemas["Problem"] = Problem.model_json_schema()
            for operations in doc["paths"].values():
                for operation in operations.values():
                    responses = operation.setdefault("responses", {})
                    for status, description in ERRORS.items():  # a route's own documentation is kept
                        given = responses.get(str(status))
                        if given is None or "HTTPValidationError" in str(given):  # FastAPI's default 422
                            responses[str(status)] = {"description": description, "content": {
                                PROBLEM_MEDIA: {"schema": {"$ref": "#/components/schemas/Problem"}}}}  # fmt: skip
            for name in ("HTTPValidationError", "ValidationError"):
                schemas.pop(name, None)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
