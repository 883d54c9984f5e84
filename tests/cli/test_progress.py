"""Progress while waiting: a plain line for logs, a live bar on a terminal."""

from __future__ import annotations

import io

from rich.console import Console

from agnt5_evals.cli import progress
from agnt5_evals.cli.progress import BarProgress, PlainProgress, describe

SUMMARY = {"done_items": 40, "total_items": 100, "passed_items": 30, "failed_items": 8, "errored_items": 2}


def test_plain_line_has_counts_rate_and_eta():
    assert describe(SUMMARY, 20.0) == "40/100 done: 30 passed, 8 failed, 2 errored, 20.0 items/s, ETA 3s"
    assert describe(SUMMARY, 0.0).endswith("ETA ?")


def test_plain_progress_prints_at_most_every_interval(capsys, monkeypatch):
    now = [1000.0]  # a clock the test moves: no assumption about how fast the machine is
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    plain = PlainProgress(every=60)
    for now[0] in (1000.0, 1030.0, 1059.9, 1060.0, 1100.0):
        plain(SUMMARY)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and all(line.startswith("40/100 done: 30 passed, 8 failed, 2 errored") for line in lines)


def test_bar_renders_on_a_terminal():
    buffer = io.StringIO()
    bar = BarProgress(Console(file=buffer, force_terminal=True, width=120))
    bar(SUMMARY)
    bar.bar.refresh()
    text = buffer.getvalue()
    bar.close()
    assert "40/100" in text and "30 passed" in text and "8 failed" in text and "2 errored" in text
    assert "items/s" in text
