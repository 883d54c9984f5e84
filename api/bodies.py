"""Big JSON answers serialised straight from the rows, without validating them through their response model.

A page of run items or failures is 50-1,000 rows of 2-3 KB, and FastAPI's path for a ``response_model`` validates
every row and every nested score against the model, then serialises the models: under 10 concurrent clients that
was a third of the server's time holding the GIL (py-spy, ``scripts/bench/reads``). The rows of these reads are
shaped by the queries to be exactly the model (it is strict and closed), so the answer is built here by walking
the model's fields in their order, embedding the stored JSON columns as they are (``queries.RawJson``, which the
projection wrote with ``orjson.dumps``) and serialising with orjson. ``tests/api/test_bodies.py`` checks, on both
stores, that the bytes are those the validating path gives for the same rows.
"""

from __future__ import annotations

import types
from collections.abc import Iterable
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import orjson
from fastapi import Response
from pydantic import BaseModel

from agnt5_evals.projections.queries import RawJson


class Plan:
    """How a model's rows are written: its fields in order (with the defaults of those that have one), the float
    fields (an integer there is written as a float, as the model writes it), the fields of nested models (with
    their plans), and the others, where a stored JSON column may be embedded."""

    def __init__(self, model: type[BaseModel]) -> None:
        self.names = tuple(model.model_fields)
        self.defaults: dict[str, Any] = {}
        self.floats: list[str] = []
        self.nested: list[tuple[str, Plan]] = []
        self.values: list[str] = []
        for name, field in model.model_fields.items():
            if field.default_factory is not None:
                raise TypeError(f"{model.__name__}.{name}: a default_factory is not written by api.bodies")
            if not field.is_required():
                self.defaults[name] = field.default
            annotation = _optional(field.annotation)
            args = get_args(annotation)
            if annotation is float:
                self.floats.append(name)
            elif get_origin(annotation) is list and args and _is_model(args[0]):
                self.nested.append((name, plan(args[0])))
            elif _as_is(annotation):
                self.values.append(name)
            else:  # the model would convert the value (a nested model, a float inside a list...): not written here
                raise TypeError(f"{model.__name__}.{name}: {annotation!r} is not written by api.bodies")


def _as_is(annotation: Any) -> bool:
    """Whether the model serialises a value of ``annotation`` exactly as it is (plain JSON, no float or model)."""
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if annotation is Any or annotation in (str, int, bool):
        return True
    if get_origin(annotation) in (list, dict):
        return all(_as_is(arg) for arg in get_args(annotation))
    return get_origin(annotation) is Literal


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _optional(annotation: Any) -> Any:
    """``X`` for ``X | None`` (or ``Optional[X]``) and for ``Annotated[X, ...]``, else the annotation itself."""
    if get_origin(annotation) is Annotated:
        return _optional(get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return _optional(args[0])
    return annotation


@cache
def plan(model: type[BaseModel]) -> Plan:
    return Plan(model)


def shaped(row: dict[str, Any], fields: Plan) -> dict[str, Any]:
    """The row as the model serialises it: its fields in order, floats as floats, stored JSON embedded. A row whose
    keys are already the fields in order is changed in place."""
    if tuple(row) == fields.names:
        out = row
    else:
        for name in fields.names:
            if name not in row and name not in fields.defaults:
                raise KeyError(f"the answer's row has no {name!r}")  # a bug in the query, as the model would say
        out = {name: row.get(name, fields.defaults.get(name)) for name in fields.names}
    for name in fields.floats:
        value = out[name]
        if value is not None:
            out[name] = float(value)
    for name in fields.values:
        value = out[name]
        if type(value) is RawJson:
            out[name] = orjson.Fragment(value.text)
    for name, nested in fields.nested:
        value = out[name]
        if value is not None:
            out[name] = [shaped(item, nested) for item in value]
    return out


class RowsResponse(Response):
    """A JSON array the route serialised, with its length (the project API's envelope counts it)."""

    media_type = "application/json"

    def __init__(self, body: bytes, count: int) -> None:
        super().__init__(body)
        self.count = count


def json_rows(rows: Iterable[dict[str, Any]], model: type[BaseModel]) -> RowsResponse:
    """A JSON array of the rows as ``model`` would serialise them (see the module's docstring)."""
    fields = plan(model)
    out = [shaped(row, fields) for row in rows]  # the rows are the answer's: changed in place where they can be
    return RowsResponse(orjson.dumps(out), len(out))
