"""One router per resource."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter


class Router(APIRouter):
    """An ``APIRouter`` whose routes take their OpenAPI summary from the first line of the handler's docstring."""

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if kwargs.get("summary") is None:
            kwargs["summary"] = (inspect.getdoc(endpoint) or "").split("\n")[0] or None
        super().add_api_route(path, endpoint, **kwargs)
