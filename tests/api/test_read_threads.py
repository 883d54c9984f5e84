"""The quick reads (``Router.read``: a run's summary, gate and pages) run in a few threads of their own
(``api.routes.read_limiter``), as many as the server's config says (by default by store). A long read (a page with
no limit, a whole comparison) and every other route keep FastAPI's default pool, so none holds the quick reads
up, and FastAPI validates their answers in a thread, never on the event loop."""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from agnt5_evals.api.auth import ServerConfig
from agnt5_evals.api.envelope import enveloped
from agnt5_evals.api.main import RESOURCES, create_app
from agnt5_evals.api.routes import READ_THREADS, Router, projects, read_limiter
from agnt5_evals.domain.errors import Invalid
from tests.api.test_api import wait_done
from tests.support import definition

QUICK = {"/runs/{run_id}", "/runs/{run_id}/items", "/runs/{run_id}/failures", "/runs/{run_id}/gate", "/scores",
         "/experiments/{experiment_id}/runs/{run_id}"}  # fmt: skip


def _wait(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.fixture
def run(services, world) -> Iterator[tuple[TestClient, str]]:
    app = create_app(server=ServerConfig(read_threads=1))
    with TestClient(app) as client:
        spec = definition(world["dataset"], world["version"], world["good"], "exact_match")
        exp = str(services.app.create_experiment("threads", "", spec).id)
        rid = client.post(f"/api/v1/experiments/{exp}/runs", json={"name": "r"}).json()["id"]
        assert wait_done(client, rid)["status"] == "completed"
        yield client, rid


def test_only_the_quick_reads_are_async_and_every_other_get_is_sync():
    """FastAPI validates a sync endpoint's answer in a thread, an async one's on the loop: only the quick reads
    (small answers, or rows the route serialised itself) may be async, besides the event streams."""
    modules = (*RESOURCES, projects)
    quick = set()
    for router in [module.router for module in modules] + [enveloped(module.router) for module in modules]:
        for route in router.routes:
            if not isinstance(route, APIRoute) or "GET" not in route.methods:
                continue
            if inspect.iscoroutinefunction(route.endpoint) and not route.path.endswith("/progress"):
                assert route.path in QUICK, route.path
                assert not inspect.iscoroutinefunction(inspect.unwrap(route.endpoint))  # the route's own sync code
                quick.add(route.path)
    assert quick == QUICK


def test_a_full_read_thread_holds_up_only_the_quick_reads(run):
    client, rid = run
    limiter = client.portal.call(read_limiter)
    holder = object()
    client.portal.call(limiter.acquire_on_behalf_of, holder)  # the one read thread is busy
    with ThreadPoolExecutor(6) as pool:
        try:
            pages = [
                pool.submit(client.get, f"/api/v1/runs/{rid}/items", params={"limit": 5}),
                pool.submit(client.get, "/api/v1/scores", params={"run_id": rid, "page": 1, "page_size": 50}),
                pool.submit(client.get, f"/api/v1/projects/default/runs/{rid}/failures", params={"limit": 5}),
            ]
            _wait(lambda: client.portal.call(limiter.statistics).tasks_waiting == 3, "the pages to wait for a thread")
            # the long reads and the other routes answer meanwhile, from the default pool
            for path, params in ((f"/api/v1/runs/{rid}/items", {}), (f"/api/v1/runs/{rid}/failures", {"limit": 5000}),
                                 ("/api/v1/scores", {"run_id": rid}), (f"/api/v1/runs/{rid}/compare/{rid}", {}),
                                 ("/api/v1/datasets", {})):  # fmt: skip
                answer = pool.submit(client.get, path, params=params).result(timeout=60)
                assert answer.status_code == 200, (path, answer.text)
            assert not any(page.done() for page in pages)
        finally:
            client.portal.call(limiter.release_on_behalf_of, holder)
        items, scores, failures = (page.result(timeout=60) for page in pages)
    assert items.status_code == 200 and [item["position"] for item in items.json()] == [0, 1, 2, 3, 4]
    assert scores.status_code == 200 and len(scores.json()) == 10  # one scorer, ten items
    assert failures.status_code == 200 and failures.json()["count"] == len(failures.json()["data"]) == 5


@pytest.mark.parametrize("configured", [None, 1, 7])
def test_the_server_config_sets_this_loops_read_threads(services, configured):
    app = create_app(server=ServerConfig(read_threads=configured))
    with TestClient(app) as client:
        tokens = client.portal.call(lambda: read_limiter().total_tokens)
        assert client.get("/api/v1/datasets").status_code == 200
    assert tokens == (configured or READ_THREADS[services.settings.store])


@pytest.mark.parametrize("threads", [0, -1, 65])
def test_a_config_out_of_range_is_refused(threads):
    with pytest.raises(Invalid) as refused:
        ServerConfig(read_threads=threads)
    assert refused.value.field == "read_threads"


def test_a_quick_read_must_be_sync():
    router = Router()

    async def streamed() -> None: ...

    with pytest.raises(TypeError, match="sync handler"):
        router.read("/x")(streamed)
