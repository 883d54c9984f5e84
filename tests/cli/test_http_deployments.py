"""HTTP deployments end to end: ``agnt5 worker serve`` in a real process, ``deployments create --url``, runs."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest

from agnt5_evals.adapters.bootstrap import build
from agnt5_evals.projections import queries
from tests.cli.conftest import data, out
from tests.worker.test_http_target import Stub, free_port, serving, trace_of

ROOT = Path(__file__).resolve().parents[2]
TOOL_CALLED = '{"name":"tool_called","config":{"tool":"search_orders"}}'


class Served(NamedTuple):
    url: str
    banner: str


def wait_until_serving(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"worker serve exited {proc.returncode}: {log.read_text()}")
        try:
            if httpx.get(url + "/components", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError(f"worker serve did not answer at {url} within {timeout} s: {log.read_text()}")


@pytest.fixture
def http_worker(agent_dir: Path, tmp_path: Path) -> Iterator[Served]:
    """``agnt5 worker serve good_agent`` in its own process; yields its URL and always stops it."""
    port, log = free_port(), tmp_path / "serve.log"
    command = [sys.executable, "-m", "agnt5_evals.cli.main", "worker", "serve", "good_agent", "--port", str(port),
               "--path", str(agent_dir)]  # fmt: skip
    with log.open("wb") as stderr:
        proc = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(proc, url, log)
        yield Served(url, log.read_text())
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def experiment(agnt5, deployment: str, inputs: list[Any], component: str = "support_agent", config: str = "") -> str:
    """A published dataset of ``inputs`` and an experiment over a deployment's component; returns its id."""
    ds = out(agnt5("datasets", "create", "--name", "http-cases"))
    agnt5("datasets", "upload", ds, input="\n".join(json.dumps({"input": i}) for i in inputs))
    version = out(agnt5("datasets", "publish", ds))
    return out(agnt5("experiments", "create", "--name", "http-quality", "--dataset-id", ds, "--dataset-version-id",
                     version, "--deployment-id", deployment, "--component-name", component, "--component-type",
                     "agent", "--builtin-scorer", "json_valid", "--builtin-scorer", TOOL_CALLED,
                     "--config", config or '{"passed_threshold": 1}'))  # fmt: skip


def test_worker_serve_prints_one_line_and_lists_the_modules_components(http_worker):
    assert http_worker.banner == f"serving good_agent on {http_worker.url}\n"
    listed = httpx.get(http_worker.url + "/components").json()["components"]
    assert [(c["name"], c["type"]) for c in listed] == [("support_agent", "agent"), ("echo", "function"),
                                                        ("slow", "function")]  # fmt: skip


def test_an_http_deployment_runs_an_experiment_and_its_tool_calls_reach_the_scorers(agnt5, http_worker):
    url = http_worker.url
    created = data(agnt5("deployments", "create", "--name", "remote", "--url", url + "/", "--format", "json"))
    assert (created["kind"], created["url"], created["module"], created["path"]) == ("http", url, "", "")
    assert created["build"].startswith("sha256:")  # the build the worker reported
    assert {"name": "support_agent", "type": "agent"} in created["components"]
    listed = data(agnt5("deployments", "list", "--format", "json"))
    assert [(d["id"], d["kind"]) for d in listed] == [(created["id"], "http")]

    exp = experiment(agnt5, created["id"], [{"order_id": n} for n in range(1, 5)])
    summary = data(agnt5("experiments", "run", exp, "--wait", "--timeout", "2m", "--format", "json"))
    assert (summary["status"], summary["passed_items"], summary["gate"]["passed"]) == ("completed", 4, True)
    assert summary["build"] == created["build"] and summary["code_digest"] is None
    assert {s["scorer"]: s["mean_score"] for s in summary["scorers"]} == {"json_valid": 1.0, "tool_called": 1.0}

    scores = data(agnt5("scores", "list", "--run-id", summary["id"], "--scorer", "tool_called", "--format", "json"))
    evidence = data(agnt5("scores", "evidence", scores[0]["id"], "--include", "scorer_input,evidence"))
    kinds = [e["event_type"] for e in evidence["scorer_input"]["events"]]
    assert kinds == ["run.started", "tool.call.started", "tool.call.completed", "run.completed"]
    assert evidence["evidence"]["trace_eval_context"]["features"]["tool_call_count"] == 1
    item = evidence["scorer_input"]["events"][1]
    assert item["parent_correlation_id"] == scores[0]["run_item_id"]  # the remote events join the item's trace


def test_a_component_that_raises_is_an_errored_item_with_the_reason(agnt5, http_worker):
    dep = out(agnt5("deployments", "create", "--name", "remote", "--url", http_worker.url))
    exp = experiment(agnt5, dep, [{"order_id": 1}, {"order_id": 2, "explode": True}])
    summary = data(agnt5("experiments", "run", exp, "--wait", "--format", "json", code=2))
    assert (summary["status"], summary["passed_items"], summary["errored_items"]) == ("completed", 1, 1)
    [failure] = data(agnt5("reports", "failures", summary["id"], "--format", "json"))
    assert (failure["status"], failure["error"], failure["attempts"]) == ("errored", "RuntimeError: boom", 1)


def flaky(request: dict[str, Any], calls: dict[int, int], lock: threading.Lock) -> tuple[int, Any]:
    """503 for the first ``fail`` calls of an item, then 200 with a tool call in the trace."""
    n = request["input"]["n"]
    with lock:
        calls[n] = calls.get(n, 0) + 1
        count = calls[n]
    if count <= request["input"]["fail"]:
        return 503, {"error": f"busy (call {count})"}
    return 200, {"output": {"n": n}, "events": trace_of(request["run_id"])}


def test_a_flaky_endpoint_is_retried_and_the_item_records_its_attempts(agnt5):
    calls: dict[int, int] = {}
    lock = threading.Lock()
    with serving(Stub(lambda request: flaky(request, calls, lock))) as url:
        dep = out(agnt5("deployments", "create", "--name", "flaky", "--url", url))
        config = '{"retries": 2, "retry_backoff_s": 0.01, "passed_threshold": 0.5}'
        exp = experiment(agnt5, dep, [{"n": 1, "fail": 2}, {"n": 2, "fail": 9}], component="agent", config=config)
        summary = data(agnt5("experiments", "run", exp, "--wait", "--timeout", "2m", "--format", "json"))
    assert (summary["status"], summary["passed_items"], summary["errored_items"]) == ("completed", 1, 1)
    assert calls == {1: 3, 2: 3}  # 1 attempt + 2 retries each

    [failure] = data(agnt5("reports", "failures", summary["id"], "--format", "json"))
    assert (failure["status"], failure["attempts"]) == ("errored", 3)
    assert failure["error"].startswith(f"TransientError: HTTP 503 from {url}: busy (call 3)")

    scores = data(agnt5("scores", "list", "--run-id", summary["id"], "--format", "json"))
    assert {(s["scorer_key"], s["passed"]) for s in scores} == {("json_valid", True), ("tool_called", True)}
    events = data(agnt5("scores", "evidence", scores[0]["id"], "--include", "scorer_input"))["scorer_input"]["events"]
    retried = [e["data"] for e in events if e["event_type"] == "run.attempt.failed"]
    assert [(r["attempt"], r["transient"]) for r in retried] == [(1, True), (2, True)]
    assert "HTTP 503" in retried[0]["error"]
    with build() as svc:
        svc.catch_up()
        attempts = {i["status"]: i["attempts"] for i in queries.run_items(svc.view, summary["id"])}
    assert attempts == {"passed": 3, "errored": 3}


def test_an_unreachable_url_is_an_input_error_and_nothing_is_written(agnt5):
    result = agnt5("deployments", "create", "--name", "gone", "--url", f"http://127.0.0.1:{free_port()}", code=1)
    assert result.stderr.startswith("error: --url: cannot reach")
    assert data(agnt5("deployments", "list", "--format", "json")) == []


def test_a_bad_components_answer_is_an_input_error_naming_url(agnt5):
    with serving(Stub(lambda request: (200, {}), components={"not": "a list"})) as url:
        result = agnt5("deployments", "create", "--name", "odd", "--url", url, code=1)
    assert result.stderr.startswith("error: --url: GET ") and "components" in result.stderr
    assert data(agnt5("deployments", "list", "--format", "json")) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--module", "good_agent", "--url", "http://127.0.0.1:9"], "error: --module, --url: give exactly one"),
        ([], "error: --module, --url: give exactly one"),
        (["--url", "ftp://example.com"], "error: --url: 'ftp://example.com' is not an http:// or https:// URL"),
        (["--url", "http://127.0.0.1:9", "--path", "."], "error: --path: only with a module"),
    ],
)
def test_module_and_url_are_exclusive_and_one_is_required(agnt5, args, message):
    assert agnt5("deployments", "create", "--name", "x", *args, code=1).stderr.startswith(message)


def test_worker_serve_refuses_a_module_it_cannot_import(agnt5, tmp_path):
    result = agnt5("worker", "serve", "no_such_module_xyz", "--port", "0", "--path", str(tmp_path), code=1)
    assert result.stderr.startswith("error: MODULE: cannot import 'no_such_module_xyz'")
    assert agnt5("worker", "serve", "m", "--port", "70000", code=1).stderr.startswith("error: --port: 70000")


REMOTE_SCORER = """
from agnt5_evals import scorer


@scorer("mentions_order")
def mentions_order(request):
    hit = str(request["input"]["order_id"]) in str(request["output"])
    return {"score": 1.0 if hit else 0.0, "label": "cited" if hit else "missing"}
"""


def test_a_custom_scorer_served_over_http_scores_a_run(agnt5, page, agent_dir, tmp_path):
    (agent_dir / "remote_scorers.py").write_text(REMOTE_SCORER)
    port, log = free_port(), tmp_path / "scorer-serve.log"
    command = [sys.executable, "-m", "agnt5_evals.cli.main", "worker", "serve", "remote_scorers", "--port", str(port),
               "--path", str(agent_dir)]  # fmt: skip
    with log.open("wb") as stderr:
        proc = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(proc, url, log)
        deployment = out(agnt5("deployments", "create", "--name", "remote-scorers", "--url", url))
        scorer_id = out(agnt5("scorers", "create", "--name", "mentions-order", "--deployment-id", deployment,
                              "--component-name", "mentions_order"))  # fmt: skip
        target = ["--deployment-id", page["good"], "--component-name", "support_agent", "--component-type", "agent"]
        exp = out(agnt5("experiments", "create", "--name", "remote-scored", "--dataset-id", page["dataset"],
                        "--dataset-version-id", page["version"], *target, "--scorer-id", scorer_id))  # fmt: skip
        summary = data(agnt5("experiments", "run", exp, "--wait", "--format", "json"))
    finally:
        proc.terminate()
        proc.wait(10)
    assert summary["scorers"] == [{"scorer": "mentions-order", "mean_score": 1.0, "passed": 6, "failed": 0,
                                   "errored": 0, "pass_rate": 1.0}]  # fmt: skip
