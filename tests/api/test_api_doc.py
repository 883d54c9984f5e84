"""docs/api.md's workflow block runs as written (bash, curl, jq) against a real server requiring keys and a real
HTTP worker, and prints what the page says it prints."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agnt5_evals.adapters.bootstrap import build
from agnt5_evals.services import keys, projects

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
AGNT5 = [sys.executable, "-m", "agnt5_evals.cli.main"]


def block(marker: str) -> str:
    """The fenced block right after ``<!-- marker -->`` in docs/api.md."""
    found = re.search(rf"<!-- {marker} -->\n```\w*\n(.*?)\n```", DOC.read_text(), re.S)
    assert found, f"docs/api.md has no <!-- {marker} --> block"
    return found.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serving(command: list[str], url: str, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as err:
        process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"{command} never answered at {url}: {log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def server(store: str, agent_dir: Path, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The first block of the page: project team-a, an admin key, ``agnt5 server --require-keys`` and
    ``agnt5 worker serve``; the environment the workflow block reads."""
    with build() as svc:
        projects.create_project(svc, "Team A", "team-a")
        key = keys.create_key(svc, "team-a", "admin", "ci")["key"]
    env = {**os.environ, "AGNT5_ALLOWED_HOSTS": ""}
    port, worker_port = free_port(), free_port()
    server = serving([*AGNT5, "server", "--require-keys", "--port", str(port)],
                     f"http://127.0.0.1:{port}/openapi.json", tmp_path / "server.log", env)  # fmt: skip
    worker = serving([*AGNT5, "worker", "serve", "good_agent", "--path", str(agent_dir), "--port", str(worker_port)],
                     f"http://127.0.0.1:{worker_port}/components", tmp_path / "worker.log", env)  # fmt: skip
    try:
        yield {"SERVER": f"http://127.0.0.1:{port}", "KEY": key, "WORKER": f"http://127.0.0.1:{worker_port}"}
    finally:
        stop(worker)
        stop(server)


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="needs curl and jq (.ci/run has them)")
def test_the_documented_workflow_runs_and_prints_what_the_page_says(server, tmp_path):
    script = "set -euo pipefail\n" + block("workflow")
    done = subprocess.run(["bash", "-c", script], env={**os.environ, **server}, cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert done.stdout.splitlines() == block("output").splitlines(), done.stdout
