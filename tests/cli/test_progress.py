"""Progress while waiting: plain lines for logs (start, every few seconds, end), a live bar on a terminal."""

from __future__ import annotations

import io

from rich.console import Console

from agnt5_evals.cli import progress
from agnt5_evals.cli.progress import BarProgress, PlainProgress, describe
from tests.support import wait_until

SUMMARY = {"done_items": 40, "total_items": 100, "passed_items": 30, "failed_items": 8, "errored_items": 2}


def test_plain_line_has_counts_rate_and_eta():
    assert describe(SUMMARY, 20.0) == "40/100 done: 30 passed, 8 failed, 2 errored, 20.0 items/s, ETA 3s"
    assert describe(SUMMARY, 0.0).endswith("ETA ?")


def test_plain_progress_prints_a_start_line_a_line_every_interval_and_an_end_line():
    buffer = io.StringIO()
    plain = PlainProgress(every=0.01, out=buffer)
    plain(SUMMARY)  # the start line at once; then the ticker repeats the latest counts, changed or not
    wait_until(lambda: buffer.getvalue().count("\n") >= 3, message="no periodic line")
    plain.end({**SUMMARY, "status": "completed", "done_items": 100, "passed_items": 90})
    lines = buffer.getvalue().splitlines()
    assert lines[0].startswith("waiting: 40/100 done: 30 passed, 8 failed, 2 errored")
    assert all(line.startswith("40/100 done: 30 passed, 8 failed, 2 errored") for line in lines[1:-1])
    assert lines[-1].startswith("completed: 100/100 done: 90 passed") and plain.ticker is not None
    assert not plain.ticker.is_alive()  # the end stops the ticker: no line after it


def test_plain_progress_that_gives_up_says_where_it_was():
    buffer = io.StringIO()
    plain = PlainProgress(every=60, out=buffer)
    plain(SUMMARY)
    plain.end(None)
    assert buffer.getvalue().splitlines()[-1].startswith("stopped waiting at 40/100 done")


def test_the_interval_comes_from_the_environment(monkeypatch, capsys):
    monkeypatch.setenv("AGNT5_PROGRESS_INTERVAL", "0.5")
    assert PlainProgress().every == 0.5
    monkeypatch.delenv("AGNT5_PROGRESS_INTERVAL")
    assert PlainProgress().every == 5
    for bad in ("soon", "0", "-1", "nan"):
        monkeypatch.setenv("AGNT5_PROGRESS_INTERVAL", bad)
        assert progress.interval() == 5 and "AGNT5_PROGRESS_INTERVAL" in capsys.readouterr().err


def test_bar_renders_on_a_terminal():
    buffer = io.StringIO()
    bar = BarProgress(Console(file=buffer, force_terminal=True, width=120))
    bar(SUMMARY)
    bar.bar.refresh()
    text = buffer.getvalue()
    bar.close()
    assert "40/100" in text and "30 passed" in text and "8 failed" in text and "2 errored" in text
    assert "items/s" in text
