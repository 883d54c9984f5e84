"""An AGNT5 SDK workerless app (``agnt5.serverless.serve``) served by uvicorn on loopback is an HTTP deployment:
discovered from its manifest, invoked with ``POST /agnt5/invoke``, signed when a secret is configured, and its
events read by our trace scorers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import data, out
from tests.support import wait_until
from tests.worker.test_http_target import free_port

pytest.importorskip("agnt5")

APP = Path(__file__).resolve().parents[1] / "fixtures" / "agnt5_app"
SECRET = "s3cret-workerless-key"
CONFIG = '{"passed_threshold": 1, "retries": 1, "retry_backoff_s": 0.01}'


def answers(url: str) -> bool:
    try:
        return httpx.get(url + "/.well-known/agnt5", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def workerless(tmp_path: Path, **env: str) -> Iterator[str]:
    """``uvicorn serve_weather:app`` in its own process; yields its URL and always stops it."""
    port, log = free_port(), tmp_path / f"uvicorn-{len(env)}.log"
    command = [sys.executable, "-m", "uvicorn", "serve_weather:app", "--app-dir", str(APP), "--host", "127.0.0.1",
               "--port", str(port)]  # fmt: skip
    with log.open("wb") as stderr:
        proc = subprocess.Popen(command, env={**os.environ, **env}, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=stderr)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: proc.poll() is not None or answers(url), message=lambda: log.read_text())
        assert proc.poll() is None, log.read_text()
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def experiment(agnt5: Callable[..., object], deployment: str, component: str, kind: str, rows: list[dict],
               *scorers: str) -> str:  # fmt: skip
    ds = out(agnt5("datasets", "create", "--name", f"wl-{component}"))
    agnt5("datasets", "upload", ds, input="\n".join(json.dumps(r) for r in rows))
    version = out(agnt5("datasets", "publish", ds, "--description", component))
    return out(agnt5("experiments", "create", "--name", f"wl-{component}", "--dataset-id", ds, "--dataset-version-id",
                     version, "--deployment-id", deployment, "--component-name", component, "--component-type", kind,
                     *scorers, "--config", CONFIG))  # fmt: skip


def check_runs(agnt5: Callable[..., object], url: str) -> None:
    created = data(agnt5("deployments", "create", "--name", "weather-wl", "--url", url, "--format", "json"))
    assert {"name": "greet", "type": "function"} in created["components"]
    assert {"name": "weather_agent", "type": "agent"} in created["components"]
    assert created["build"] == "1.0.0"  # the manifest's service_version
    greet = experiment(agnt5, created["id"], "greet", "function",
                       [{"input": {"name": "Ada"}, "expected_output": {"message": "Hello, Ada!"}}],
                       "--builtin-scorer", "exact_match")  # fmt: skip
    summary = data(agnt5("experiments", "run", greet, "--wait", "--timeout", "2m", "--format", "json"))
    assert (summary["status"], summary["passed_items"], summary["build"]) == ("completed", 1, "1.0.0")
    asked = experiment(agnt5, created["id"], "weather_agent", "agent",
                       [{"input": {"message": "Weather in Paris?"}, "expected_output": "It is sunny in Paris."}],
                       "--builtin-scorer", "exact_match",
                       "--builtin-scorer", '{"name": "tool_called", "config": {"tool": "lookup"}}')  # fmt: skip
    summary = data(agnt5("experiments", "run", asked, "--wait", "--timeout", "2m", "--format", "json"))
    assert (summary["status"], summary["passed_items"]) == ("completed", 1)  # the agent's tool_call.* events count


def test_an_unsigned_workerless_app_is_an_http_deployment(agnt5, tmp_path, monkeypatch):
    monkeypatch.delenv("AGNT5_WORKERLESS_SECRET", raising=False)
    with workerless(tmp_path, ALLOW_UNSIGNED="1") as url:
        check_runs(agnt5, url)


def test_a_signed_workerless_app_with_and_without_the_secret(agnt5, tmp_path, monkeypatch):
    with workerless(tmp_path, AGNT5_SIGNING_SECRET=SECRET) as url:
        monkeypatch.setenv("AGNT5_WORKERLESS_SECRET", SECRET)
        check_runs(agnt5, url)
        monkeypatch.delenv("AGNT5_WORKERLESS_SECRET")  # unsigned calls are refused: final, not retried
        dep = out(agnt5("deployments", "create", "--name", "unsigned", "--url", url))
        exp = experiment(
            agnt5,
            dep,
            "greet",
            "function",
            [{"input": {"name": "Ada"}, "expected_output": None}],
            "--builtin-scorer",
            "json_valid",
        )
        summary = data(agnt5("experiments", "run", exp, "--wait", "--timeout", "2m", "--format", "json", code=2))
        [failure] = data(agnt5("reports", "failures", summary["id"], "--format", "json"))
        assert failure["attempts"] == 1 and "HTTP 401 WORKERLESS_SIGNATURE_MISSING" in failure["error"]
        assert SECRET not in json.dumps(failure)


def test_a_handler_failure_is_retried_as_the_answer_says(agnt5, tmp_path, monkeypatch):
    monkeypatch.delenv("AGNT5_WORKERLESS_SECRET", raising=False)
    with workerless(tmp_path, ALLOW_UNSIGNED="1") as url:
        dep = out(agnt5("deployments", "create", "--name", "weather-wl", "--url", url))
        exp = experiment(
            agnt5,
            dep,
            "divide",
            "function",
            [{"input": {"a": 1, "b": 0}, "expected_output": None}],
            "--builtin-scorer",
            "json_valid",
        )
        summary = data(agnt5("experiments", "run", exp, "--wait", "--timeout", "2m", "--format", "json", code=2))
        [failure] = data(agnt5("reports", "failures", summary["id"], "--format", "json"))
    assert failure["attempts"] == 2  # retryable: true, so retried (retries: 1)
    assert "WORKERLESS_HANDLER_FAILED" in failure["error"] and "ZeroDivisionError" in failure["error"]
