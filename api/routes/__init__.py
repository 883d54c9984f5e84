"""One router per resource; every route reads a JSON body with the strict reader (``domain.jsonio``)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute

from agnt5_evals.domain import jsonio


def _is_json(content_type: str | None) -> bool:
    """What FastAPI parses as JSON: no content type, ``application/json`` or ``application/*+json``."""
    kind = (content_type or "application/json").split(";", 1)[0].strip().lower()
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


class StrictJSONRoute(APIRoute):
    """Parses a JSON body strictly before FastAPI sees it: duplicate keys, NaN, integers beyond 64 bits and lone
    surrogates are refused (422, the field named) instead of changed or failing later with a 500."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            body = await request.body()
            if body and _is_json(request.headers.get("content-type")):
                request._json = jsonio.loads(body, "")  # FastAPI's request.json() returns this parsed value
            response: Response = await handler(request)
            return response

        return strict


class Router(APIRouter):
    """An ``APIRouter`` whose routes take their OpenAPI summary from the first line of the handler's docstring."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(route_class=kwargs.pop("route_class", StrictJSONRoute), **kwargs)

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if kwargs.get("summary") is None:
            kwargs["summary"] = (inspect.getdoc(endpoint) or "").split("\n")[0] or None
        super().add_api_route(path, endpoint, **kwargs)
