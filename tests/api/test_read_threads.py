"""Plain reads (sync ``GET`` routes) run in a few threads of their own (``api.routes.read_limiter``): as many as
the server's config says (by default by store), while commands and inline evals keep the default pool."""

from __future__ import annotations

import inspect

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from agnt5_evals.api.auth import ServerConfig
from agnt5_evals.api.envelope import enveloped
from agnt5_evals.api.main import create_app
from agnt5_evals.api.routes import READ_THREADS, audit, datasets, experiments, inline, read_limiter, runs, scores


def _endpoint(router, method: str, path: str):
    return next(r.endpoint for r in router.routes if isinstance(r, APIRoute) and r.path == path and method in r.methods)


def test_reads_are_wrapped_and_commands_are_not():
    for router, path in ((runs.router, "/runs/{run_id}/items"), (runs.router, "/runs/{run_id}/failures"),
                         (scores.router, "/scores"), (enveloped(runs.router), "/runs/{run_id}/failures")):  # fmt: skip
        endpoint = _endpoint(router, "GET", path)
        assert inspect.iscoroutinefunction(endpoint), path  # awaited in the loop: it hands the read to its threads
        assert not inspect.iscoroutinefunction(inspect.unwrap(endpoint)), path  # the route's own sync code
    assert not inspect.iscoroutinefunction(_endpoint(inline.router, "POST", "/v1/eval"))  # runs a component
    for router, path in ((audit.router, "/audit/verify"), (datasets.router, "/datasets/{dataset_id}/dedup")):
        assert not inspect.iscoroutinefunction(_endpoint(router, "GET", path)), path  # may take seconds of CPU
    assert not inspect.iscoroutinefunction(_endpoint(experiments.router, "POST", "/experiments/{experiment_id}/runs"))


@pytest.mark.parametrize("configured", [None, 1, 7])
def test_the_server_config_sets_this_loops_read_threads(services, configured):
    app = create_app(server=ServerConfig(read_threads=configured))
    with TestClient(app) as client:
        tokens = client.portal.call(lambda: read_limiter().total_tokens)
        assert client.get("/api/v1/datasets").status_code == 200  # a read answers through them
    assert tokens == (configured or READ_THREADS[services.settings.store])
