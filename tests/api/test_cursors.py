"""Items, failures and scores page with a cursor (``after``): the pages after one another are the whole list, on
both stores, and a bad cursor is a 422 naming ``after``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agnt5_evals.api.main import create_app
from tests.api.test_api import MISSING, wait_done
from tests.support import definition


@pytest.fixture
def client(services) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


@pytest.fixture
def runs(client, services, world) -> tuple[str, str]:
    """Two finished runs of 10 items and 2 scorers; the second fails 5 of them."""
    spec = definition(world["dataset"], world["version"], world["good"], "json_valid",
                      '{"name":"tool_called","config":{"tool":"search_orders"}}')  # fmt: skip
    exp = str(services.app.create_experiment("cursors", "", spec).id)
    base = client.post(f"/api/v1/experiments/{exp}/runs", json={"name": "base"}).json()["id"]
    cand = client.post(f"/api/v1/experiments/{exp}/runs", json={"name": "cand", "deployment_id": str(world["bad"])})
    assert wait_done(client, base)["passed_items"] == 10
    assert wait_done(client, cand.json()["id"])["failed_items"] == 5
    return base, cand.json()["id"]


def paged(client: TestClient, path: str, params: dict[str, Any], cursor: Callable[[dict[str, Any]], Any]) -> list:
    """Every page of 2 after the one before, until an empty one."""
    pages: list[list[dict[str, Any]]] = [client.get(path, params=params).json()]
    while pages[-1]:
        pages.append(client.get(path, params={**params, "after": cursor(pages[-1][-1])}).json())
    assert [len(p) for p in pages[:-1]] == [2] * (len(pages) - 2) + [len(pages[-2])] and len(pages) > 2
    return [row for page in pages for row in page]


def test_items_and_failures_page_after_a_position(client, runs):
    run = runs[1]
    for path, params in ((f"/api/v1/runs/{run}/items", {"status": "failed"}), (f"/api/v1/runs/{run}/failures", {})):
        every = client.get(path, params=params).json()
        assert len(every) == 5
        assert paged(client, path, {**params, "limit": 2}, lambda row: row["position"]) == every
        after = every[2]["position"]
        assert client.get(path, params={**params, "after": after}).json() == every[3:]
        bad = client.get(path, params={**params, "after": -1})
        assert bad.status_code == 422 and bad.json()["field"] == "after"
    items = client.get(f"/api/v1/runs/{run}/items", params={"after": 4}).json()
    assert [i["position"] for i in items] == [5, 6, 7, 8, 9]


def test_scores_page_after_a_score(client, runs):
    base, run = runs
    every = client.get("/api/v1/scores", params={"run_id": run}).json()
    assert len(every) == 20
    params = {"run_id": run, "page": 1, "page_size": 2}
    assert paged(client, "/api/v1/scores", params, lambda row: row["id"]) == every
    assert client.get("/api/v1/scores", params={"run_id": run, "after": every[14]["id"]}).json() == every[15:]
    other = client.get("/api/v1/scores", params={"run_id": base, "page": 1, "page_size": 1}).json()[0]["id"]
    for after in (MISSING, other, "nope"):
        bad = client.get("/api/v1/scores", params={"run_id": run, "after": after})
        assert bad.status_code == 422 and bad.json()["field"] == "after", (after, bad.json())
