"""Pages of run items, failures and scores are serialised from the rows (``api.bodies``) without validating them through
their response model: on both stores, each answer is byte for byte what validating the same rows through the
model and serialising them gives, under both API prefixes, for data chosen to differ if the two ways disagree
(unicode, escapes, floats, integers in float fields, nested JSON, nulls, errored items with stack traces)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field, TypeAdapter

from agnt5_evals.api.bodies import RowsResponse, json_rows, plan
from agnt5_evals.api.envelope import Page
from agnt5_evals.api.main import create_app
from agnt5_evals.api.schemas import Failure, RunItem, Score
from agnt5_evals.projections import queries
from agnt5_evals.services import runs as run_service
from agnt5_evals.services import scores as score_service
from tests.api.test_api import wait_done
from tests.support import with_keys

ODD: list[Any] = [
    {"text": 'caf\u00e9 \u2603 \U0001f600 \u0000\u001f\u007f "quoted" back\\slash </script>', "n": 1},
    {"floats": [0.1, 1e16, 1e-7, 123456789.125, -0.0, 2.5e300, 1.0, 100.0], "big": 2**63 - 1, "neg": -(2**63)},
    {"nested": {"a": [{"b": None, "c": True, "d": False}], "": "empty key", "\u00e9": []}},
    "a plain string",
    12345,
    3.0,
    None,
    [],
    {"explode": True, "order_id": 7},
]
EXPECTED: list[Any] = [ODD[0], {"different": 1}, ODD[2], "a plain strinG", 12345, 3.5, None, [1], None]


@pytest.fixture
def client(services) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def _run(client: TestClient, services: Any, world: dict[str, Any], component: str, kind: str) -> str:
    app = services.app
    ds = app.create_dataset(f"odd-{component}")
    app.add_items(ds.id, [{"input": value, "expected_output": EXPECTED[n], "metadata": {"n": n}}
                          for n, value in enumerate(ODD)])  # fmt: skip
    version = app.publish(ds.id)
    target = {"type": "component", "deployment_id": str(world["good"]), "component_name": component,
              "component_type": kind}  # fmt: skip
    scorers = [{"name": "exact_match"}, {"name": "levenshtein", "config": {"threshold": 0.95}}, {"name": "json_valid"}]
    spec = {"dataset_id": str(ds.id), "dataset_version_id": str(version.id), "target": target,
            "scorers": with_keys(scorers), "config": {}}  # fmt: skip
    exp = str(app.create_experiment(f"odd-{component}", "", spec).id)
    run = client.post(f"/api/v1/experiments/{exp}/runs", json={"name": component}).json()["id"]
    summary = wait_done(client, run)
    assert summary["status"] == "completed" and summary["total_items"] == len(ODD), summary
    return str(run)


@pytest.fixture
def odd_runs(client, services, world) -> list[str]:
    """An echo run (outputs as odd as the inputs, five items failing a scorer) and an agent run whose every item
    raises (on the one that asks it to, and on the others' missing order ids): stack traces, no scores."""
    return [_run(client, services, world, "echo", "function"), _run(client, services, world, "support_agent", "agent")]


def _validated(rows: list[dict[str, Any]], model: type) -> bytes:
    adapter = TypeAdapter(list[model])  # type: ignore[valid-type]
    return adapter.dump_json(adapter.validate_python(rows))


def test_pages_are_what_the_model_serialises(client, services, odd_runs):
    checked = 0
    for run in odd_runs:
        for params in ({}, {"status": "failed"}, {"status": "errored"}, {"status": "passed", "limit": 2},
                       {"limit": 3, "after": 1}):  # fmt: skip
            got = client.get(f"/api/v1/runs/{run}/items", params=params)
            assert got.status_code == 200 and got.headers["content-type"] == "application/json"
            rows = queries.run_items(services.view, run, (params["status"],) if "status" in params else (),
                                     params.get("limit"), after=params.get("after", -1))  # fmt: skip
            assert got.content == _validated(rows, RunItem), params
            checked += len(rows)
        by_scorer = [{"scorer": "levenshtein"}] if run == odd_runs[0] else []  # the agent run has no scores
        for params in ({}, {"limit": 2}, {"limit": 2, "after": 2}, *by_scorer):
            got = client.get(f"/api/v1/runs/{run}/failures", params=params)
            assert got.status_code == 200, got.text
            rows = run_service.failures(services, run, params.get("scorer", ""), params.get("limit"),
                                        params.get("after", -1))  # fmt: skip
            assert got.content == _validated(rows, Failure), params
            checked += len(rows)
        project = client.get(f"/api/v1/projects/default/runs/{run}/failures")
        rows = run_service.failures(services, run)
        envelope = TypeAdapter(Page[Failure])
        expected = envelope.dump_json(envelope.validate_python({"data": rows, "count": len(rows)}))
        assert project.status_code == 200 and project.content == expected
        for params in ({}, {"page": 1, "page_size": 4}, {"page": 2, "page_size": 4}, {"scorer": "json_valid"}):
            got = client.get("/api/v1/scores", params={"run_id": run, **params})
            assert got.status_code == 200, got.text
            rows = score_service.list_scores(
                services,
                run,
                scorer=params.get("scorer", ""),
                page=params.get("page", 0),
                page_size=params.get("page_size", 1000),
            )
            assert got.content == _validated(rows, Score), params
            checked += len(rows)
        project = client.get("/api/v1/projects/default/scores", params={"run_id": run, "page": 1, "page_size": 2})
        rows = score_service.list_scores(services, run, page=1, page_size=2)
        listing = TypeAdapter(Page[Score])
        expected = listing.dump_json(
            listing.validate_python({"data": rows, "count": len(rows), "next_cursor": "2" if len(rows) == 2 else None})
        )
        assert project.status_code == 200 and project.content == expected
    every = orjson.loads(client.get(f"/api/v1/runs/{odd_runs[1]}/failures").content)
    assert any(row["status"] == "errored" and "boom" in (row["stack"] or "") for row in every)
    echoed = orjson.loads(client.get(f"/api/v1/runs/{odd_runs[0]}/items").content)
    assert [row["output"] for row in echoed] == ODD  # the outputs as the component gave them
    assert checked > 60


def test_a_row_that_is_not_the_model_fails_loudly():
    """A stored JSON column must be embedded, never written as a string; a missing field is an error, not a gap."""
    row: dict[str, Any] = dict.fromkeys(plan(RunItem).names, 0) | {"scores": [], "events": [], "error": None}
    raw = {**row, "output": queries.RawJson('{"a":[1,2.5]}'), "duration_ms": 3}
    body = json_rows([raw], RunItem)
    assert isinstance(body, RowsResponse) and body.count == 1
    assert orjson.loads(body.body)[0]["output"] == {"a": [1, 2.5]}
    assert b'"duration_ms":3.0' in body.body  # an integer in a float field is written as the model writes it
    with pytest.raises(TypeError):
        orjson.dumps([queries.RawJson("{}")])
    with pytest.raises(KeyError, match="tokens"):
        json_rows([{k: v for k, v in row.items() if k != "tokens"}], RunItem)


class _Inner(BaseModel):
    a: int


class _Floats(BaseModel):
    values: list[float]  # the model writes an integer here as a float: not written as is


class _Nested(BaseModel):
    inner: _Inner


class _Factory(BaseModel):
    tags: list[str] = Field(default_factory=list)


@pytest.mark.parametrize("model", [_Floats, _Nested, _Factory])
def test_a_model_the_plan_cannot_write_as_is_is_refused(model):
    """A field whose value the model would convert, or fill from a factory, is refused when the plan is made,
    instead of written differently from the validating path."""
    with pytest.raises(TypeError, match=model.__name__):
        plan(model)
