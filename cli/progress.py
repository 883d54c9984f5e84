"""Progress of a run being waited on: a live bar on a terminal; otherwise plain lines on stderr: one at the
start, one every ``AGNT5_PROGRESS_INTERVAL`` seconds (default 5) and one at the end."""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn


def describe(summary: dict[str, Any], rate: float) -> str:
    """``done/total done: P passed, F failed, E errored, R items/s, ETA Ts`` for one summary."""
    remaining = summary["total_items"] - summary["done_items"]
    eta = f"{remaining / rate:.0f}s" if rate > 0 else "?"
    return (
        f"{summary['done_items']}/{summary['total_items']} done: {summary['passed_items']} passed, "
        f"{summary['failed_items']} failed, {summary['errored_items']} errored, {rate:.1f} items/s, ETA {eta}"
    )


class Rate:
    """Items per second over the whole wait (so far)."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.first_done: int | None = None

    def __call__(self, done: int) -> float:
        if self.first_done is None:
            self.first_done = done
        elapsed = time.monotonic() - self.start
        return (done - self.first_done) / elapsed if elapsed > 0 else 0.0


class PlainProgress:
    """Lines on stderr for logs and CI: one when the wait starts, then one every ``every`` seconds (the latest
    counts, changed or not, so a long quiet wait still shows it is alive), and one at the end."""

    def __init__(self, every: float | None = None, out: TextIO | None = None) -> None:
        self.every = interval() if every is None else every
        self.out = out
        self.rate = Rate()
        self.latest: dict[str, Any] | None = None
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.ticker: threading.Thread | None = None

    def __call__(self, summary: dict[str, Any]) -> None:
        with self.lock:
            self.latest = summary
        if self.ticker is None:
            self._print(f"waiting: {self._describe(summary)}")
            self.ticker = threading.Thread(target=self._tick, name="agnt5-progress", daemon=True)
            self.ticker.start()

    def _tick(self) -> None:
        while not self.stopped.wait(self.every):
            with self.lock:
                latest = self.latest
            if latest is not None:
                self._print(self._describe(latest))

    def _describe(self, summary: dict[str, Any]) -> str:
        return describe(summary, self.rate(summary["done_items"]))

    def _print(self, line: str) -> None:
        print(line, file=self.out or sys.stderr, flush=True)

    def end(self, summary: dict[str, Any] | None) -> None:
        """The last line: the finished work's status and counts, or where it was when the wait gave up."""
        self.close()
        if summary is not None:
            self._print(f"{summary['status']}: {self._describe(summary)}")
        elif self.latest is not None:
            self._print(f"stopped waiting at {self._describe(self.latest)}")

    def close(self) -> None:
        self.stopped.set()
        if self.ticker is not None and self.ticker is not threading.current_thread():
            self.ticker.join()


class BarProgress:
    """A live bar: done/total, passed, failed, errored, items/s and ETA."""

    def __init__(self, console: Console | None = None) -> None:
        self.rate = Rate()
        self.bar = Progress(
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TextColumn(
                "[green]{task.fields[passed]} passed[/] [red]{task.fields[failed]} failed[/] "
                "[yellow]{task.fields[errored]} errored[/] {task.fields[rate]:.1f} items/s"
            ),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=True,
        )
        self.task: TaskID | None = None

    def __call__(self, summary: dict[str, Any]) -> None:
        fields = {"passed": summary["passed_items"], "failed": summary["failed_items"],
                  "errored": summary["errored_items"], "rate": self.rate(summary["done_items"])}  # fmt: skip
        if self.task is None:
            self.bar.start()
            self.task = self.bar.add_task("run", total=summary["total_items"], **fields)
        self.bar.update(self.task, completed=summary["done_items"], **fields)

    def end(self, summary: dict[str, Any] | None) -> None:
        """The bar goes away: the summary printed after it says how the work ended."""
        del summary
        self.close()

    def close(self) -> None:
        if self.task is not None:
            self.bar.stop()
            self.task = None


INTERVAL_ENV = "AGNT5_PROGRESS_INTERVAL"
DEFAULT_INTERVAL_S = 5.0


def interval() -> float:
    """Seconds between two plain progress lines: ``AGNT5_PROGRESS_INTERVAL`` (default 5); a value that is not a
    positive number of seconds is noted and the default used (a log's cadence is no reason to stop a CI job)."""
    raw = os.environ.get(INTERVAL_ENV, "").strip()
    if not raw:
        return DEFAULT_INTERVAL_S
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        print(f"note: {INTERVAL_ENV}={raw!r} is not a positive number of seconds; using {DEFAULT_INTERVAL_S:g}",
              file=sys.stderr, flush=True)  # fmt: skip
        return DEFAULT_INTERVAL_S
    return seconds


def for_stderr() -> PlainProgress | BarProgress:
    """A live bar when stderr is a terminal; else plain lines (CI logs, a pipe, a file)."""
    return BarProgress() if sys.stderr.isatty() else PlainProgress()
