"""Drive the real ``agnt5`` app in-process (runs still execute in real worker processes)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from agnt5_evals.adapters.bootstrap import build
from agnt5_evals.api.main import create_app
from agnt5_evals.cli.main import app
from tests.support import wait_until

Agnt5 = Callable[..., Any]
MODES = ("local", "remote")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that drives the CLI runs twice: on this machine's stores, and through a server (``AGNT5_API_URL``)
    over the same store; not a test marked ``local_only`` (a command that works on this machine's store only)."""
    if "cli_mode" in metafunc.fixturenames and not metafunc.definition.get_closest_marker("local_only"):
        metafunc.parametrize("cli_mode", MODES)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Through a server, on the server's store (PostgreSQL); on both stores for a test marked ``both_modes``."""
    kept, dropped = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        remote_on_sqlite = params.get("cli_mode") == "remote" and params.get("store") == "sqlite"
        (dropped if remote_on_sqlite and not item.get_closest_marker("both_modes") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture
def cli_mode() -> str:
    """How ``agnt5`` reaches the store: ``local``, or ``remote`` through a server (tests marked both_modes)."""
    return "local"


@pytest.fixture
def api_server(store: str) -> Iterator[str]:
    """The API served by uvicorn on a free loopback port, in a thread, over the test's store; its base URL."""
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, name="api-server", daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), 60, "the API server did not start")
    assert server.started, "the API server stopped while starting"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(60)


@pytest.fixture
def agnt5(store: str, cli_mode: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Agnt5:
    if cli_mode == "remote":
        monkeypatch.setenv("AGNT5_API_URL", request.getfixturevalue("api_server"))
    return cli_runner()


@contextmanager
def on_the_server() -> Iterator[None]:
    """A maintenance command (projections, worker) runs where the store is: without ``AGNT5_API_URL``."""
    saved = os.environ.pop("AGNT5_API_URL", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["AGNT5_API_URL"] = saved


def cli_runner() -> Agnt5:
    """``agnt5 ARGS...`` in-process; asserts the exit code (``code`` None: any) and returns the result."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, code: int | None = 0) -> Any:
        result = runner.invoke(app, list(args), input=input, prog_name="agnt5")
        if code is not None:
            assert result.exit_code == code, f"exit {result.exit_code}: {result.stdout}\n{result.stderr}"
        return result

    return invoke


def out(result: Any) -> str:
    return str(result.stdout).strip()


def data(result: Any) -> Any:
    return json.loads(result.stdout)


def log_head() -> int:
    with build() as svc:
        return svc.app.recorder.max_notification_id() or 0


@pytest.fixture
def page(agnt5: Agnt5, agent_dir: Path) -> dict[str, str]:
    """The product page's setup: a dataset version, a good and a regressed deployment, an experiment."""
    ds = out(agnt5("datasets", "create", "--name", "support-cases"))
    lines = "\n".join(json.dumps({"input": {"order_id": n}, "expected_output": None}) for n in range(1, 7))
    agnt5("datasets", "upload", ds, input=lines)
    version = out(agnt5("datasets", "publish", ds, "--description", "six orders"))
    good = out(agnt5("deployments", "create", "--name", "good", "--module", "good_agent", "--path", str(agent_dir)))
    bad = out(agnt5("deployments", "create", "--name", "bad", "--module", "regressed_agent", "--path", str(agent_dir)))
    experiment = out(
        agnt5(
            "experiments", "create", "--name", "support-agent-quality", "--dataset-id", ds,
            "--dataset-version-id", version, "--target-type", "component", "--deployment-id", good,
            "--component-name", "support_agent", "--component-type", "agent", "--builtin-scorer", "json_valid",
            "--builtin-scorer", '{"name":"tool_called","config":{"tool":"search_orders"}}',
            "--config", '{"passed_threshold":1}',
        )
    )  # fmt: skip
    return {"dataset": ds, "version": version, "good": good, "bad": bad, "experiment": experiment}
