"""What the kill tests share: real processes to start and SIGKILL, the invariant checker after each, the figures
they leave for ``scripts/reliability``, and the quick or long form (``AGNT5_RELIABILITY_LONG=1``)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any
from uuid import UUID

from agnt5_evals.adapters.bootstrap import Services, Settings
from agnt5_evals.domain.runs import Run
from agnt5_evals.services.invariants import check
from tests.support import logged_items

ROOT = Path(__file__).resolve().parents[2]
AGNT5 = str(Path(sys.executable).with_name("agnt5"))
LONG = os.environ.get("AGNT5_RELIABILITY_LONG", "") not in ("", "0")
FIGURES = Path(os.environ.get("AGNT5_RELIABILITY_FIGURES") or ROOT / "build" / "reliability" / "figures.jsonl")

COUNTER = '''
import os
import time
from agnt5_evals import component


@component("counter", type="function")
def counter(input):
    """Appends its item's number to a side file on every execution, then works a little (or waits on a file)."""
    fd = os.open(input["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, f"{input['n']}\\n".encode())
    os.close(fd)
    waited = time.monotonic() + 300
    while input.get("hold") and not os.path.exists(input["hold"]) and time.monotonic() < waited:
        time.sleep(0.02)
    time.sleep(input.get("sleep", 0))
    return {"n": input["n"]}
'''


def seeds(quick: int, long: int) -> list[int]:
    """The seeds of a parametrized test: a few by default, many in the long form."""
    return list(range(long if LONG else quick))


def record_figures(**figures: Any) -> None:
    """Append one test's figures (one JSON line; concurrent test processes append whole lines)."""
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps({"long": LONG, **figures}) + "\n").encode()
    fd = os.open(FIGURES, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def agnt5(*args: str, check_rc: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The real ``agnt5`` command in its own process, on the test's store (the environment the fixtures set)."""
    done = subprocess.run([AGNT5, *args], capture_output=True, text=True, timeout=timeout, env=os.environ.copy())
    if check_rc:
        assert done.returncode == 0, f"agnt5 {' '.join(args)}: exit {done.returncode}\n{done.stderr}"
    return done


def spawn(*args: str, **kwargs: Any) -> subprocess.Popen[str]:
    """``agnt5 ARGS`` started, not waited for (to be killed)."""
    return subprocess.Popen([AGNT5, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=os.environ.copy(), **kwargs)  # fmt: skip


def sigkill(proc: subprocess.Popen[Any]) -> bool:
    """SIGKILL a process we started and reap it; False when it had already exited (the kill came too late)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return proc.returncode == -signal.SIGKILL


def poll(condition: Any, timeout: float = 120.0, every: float = 0.005, message: str = "") -> Any:
    """Like ``tests.support.wait_until`` but polling often: a kill point must not overshoot by much."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {message}")
        time.sleep(every)
    return value


def lines(path: Path) -> list[int]:
    """The item numbers a side file holds, one per execution (a line half-written at a kill is not counted)."""
    if not path.exists():
        return []
    text = path.read_text()
    return [int(n) for n in text[: text.rfind("\n") + 1].split()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stored(svc: Services, run_id: UUID) -> Run:
    run: Run = svc.app.repository.get(run_id)
    return run


def recorded(svc: Services, run_id: UUID) -> Counter[int]:
    """How many times the log records each position of the run."""
    return Counter(item["position"] for item in logged_items(svc.app) if item["run_id"] == str(run_id))


def checked() -> dict[str, Any]:
    """The invariant checker on the whole store, after applying what killed processes left unprojected; the
    report (its violations in the assertion message when any)."""
    with Services(Settings.from_env()) as svc:
        svc.catch_up()
        report = check(svc)
    result = report.as_dict()
    assert report.ok, json.dumps([row for row in result["invariants"] if not row["holds"]], indent=2)
    assert report.view_position == report.log_position
    return result


def exactly_once(svc: Services, run_id: UUID, total: int) -> bool:
    """The run completed with every position recorded exactly once."""
    counts = recorded(svc, run_id)
    return (
        stored(svc, run_id).status == "completed"
        and sorted(counts) == list(range(total))
        and set(counts.values()) == {1}
    )
