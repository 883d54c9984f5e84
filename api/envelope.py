"""The project API: every resource route again under ``/api/v1/projects/{project_id}``, in the AGNT5 control plane's
envelope.

A body is ``{"data": ...}``; a list is ``{"data": [...], "count": n, "next_cursor": c}``, where ``next_cursor`` is
the next ``page`` to ask for when the route pages and this page was full, else ``null``. A route that answers with
its own ``Response`` (JSON lines, exports) answers the same under both prefixes, except a ``RowsResponse`` (a list
the route serialised itself, ``api.bodies``), which is enveloped as a list. The handlers are the resource
routers' own: :func:`enveloped` re-registers each one with a wrapper, so the two APIs cannot drift apart.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, Generic, TypeVar, get_args, get_origin

import orjson
from fastapi import APIRouter, Response
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.utils import get_typed_signature
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict

from agnt5_evals.api.bodies import RowsResponse

T = TypeVar("T")


class Data(BaseModel, Generic[T]):
    """One resource, enveloped."""

    model_config = ConfigDict(extra="forbid")
    data: T


class Page(BaseModel, Generic[T]):
    """A list of resources, enveloped: ``count`` items, and the next page's number when there may be more."""

    model_config = ConfigDict(extra="forbid")
    data: list[T]
    count: int
    next_cursor: str | None = None


def _listing(result: Any, count: int, kwargs: dict[str, Any]) -> dict[str, Any]:
    page, size = kwargs.get("page"), kwargs.get("page_size")
    full = isinstance(page, int) and isinstance(size, int) and page > 0 and count >= size
    return {"data": result, "count": count, "next_cursor": str(page + 1) if full and page else None}


def _wrap(endpoint: Callable[..., Any], is_list: bool) -> Callable[..., Any]:
    """``endpoint`` answering in the envelope, with its signature resolved (FastAPI reads the parameters of the
    wrapper; their annotations must not be strings of another module)."""

    def envelope(result: Any, kwargs: dict[str, Any]) -> Any:
        if isinstance(result, RowsResponse) and is_list:  # rows serialised by the route: the envelope around them
            return RowsResponse(orjson.dumps(_listing(orjson.Fragment(result.body), result.count, kwargs)),
                                result.count)  # fmt: skip
        if isinstance(result, Response):
            return result
        return _listing(result, len(result), kwargs) if is_list else {"data": result}

    if inspect.iscoroutinefunction(endpoint):

        @functools.wraps(endpoint)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            return envelope(await endpoint(*args, **kwargs), kwargs)

        wrapper: Callable[..., Any] = async_wrapper
    else:

        @functools.wraps(endpoint)
        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            return envelope(endpoint(*args, **kwargs), kwargs)

        wrapper = sync_wrapper
    wrapper.__signature__ = get_typed_signature(endpoint)  # type: ignore[attr-defined]
    return wrapper


def _model(response_model: Any) -> tuple[Any, bool]:
    """The enveloped response model of a route, and whether the route answers a list."""
    if response_model is None:
        return None, False
    if get_origin(response_model) is list:
        (item,) = get_args(response_model)
        return Page[item], True  # type: ignore[valid-type]
    return Data[response_model], False


def enveloped(router: APIRouter) -> APIRouter:
    """A copy of ``router`` whose routes answer in the envelope (see the module's text)."""
    out = APIRouter(tags=list(router.tags), route_class=router.route_class)
    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        streamed = route.response_class is not JSONResponse and not isinstance(route.response_class, DefaultPlaceholder)
        model, is_list = (route.response_model, False) if streamed else _model(route.response_model)
        out.add_api_route(
            route.path,
            _wrap(route.endpoint, is_list),
            response_model=model,
            status_code=route.status_code,
            methods=sorted(route.methods or ()),
            summary=route.summary,
            description=route.description,
            response_description=route.response_description,
            responses=route.responses,
            response_model_exclude_unset=route.response_model_exclude_unset,
            response_class=route.response_class,
            name=f"project_{route.name}",
            operation_id=f"project_{route.unique_id}",
            openapi_extra=route.openapi_extra,
        )
    return out


__all__ = ["Data", "Page", "enveloped"]
