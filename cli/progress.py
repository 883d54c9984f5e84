"""Progress of a run being waited on: a live bar on a terminal, a plain line every few seconds otherwise."""

from __future__ import annotations

import sys
import time
from typing import Any

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
    """One line on stderr every ``every`` seconds, for logs and CI."""

    def __init__(self, every: float = 5.0) -> None:
        self.every = every
        self.last = 0.0
        self.rate = Rate()

    def __call__(self, summary: dict[str, Any]) -> None:
        rate = self.rate(summary["done_items"])
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            print(describe(summary, rate), file=sys.stderr, flush=True)

    def close(self) -> None:
        return None


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

    def close(self) -> None:
        if self.task is not None:
            self.bar.stop()


def for_stderr() -> PlainProgress | BarProgress:
    return BarProgress() if sys.stderr.isatty() else PlainProgress()
