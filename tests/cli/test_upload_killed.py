"""Issue 9: a killed `agnt5 datasets upload` leaves the draft as it was; uploading again gives each item once."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from agnt5_evals.adapters.bootstrap import Settings, build
from tests.cli.conftest import data, log_head, out

pytestmark = pytest.mark.local_only  # the atomicity of a killed local command

# Staged chunks of 500 items, each its own save: the test holds the log's write lock at the first one, long before
# the commit.
N_ITEMS = {"sqlite": 100_000, "postgresql": 20_000}


@contextlib.contextmanager
def log_access() -> Iterator[tuple[Callable[[], int], Callable[[], None]]]:
    """A cheap read of the log head, and a way to hold the log's write lock (no other writer gets past it)."""
    settings = Settings.from_env()
    if not settings.database_url:
        conn = sqlite3.connect(settings.home / "events.db", timeout=60, isolation_level=None)

        def head() -> int:  # a connection per look: no read snapshot can be kept between two looks
            with contextlib.closing(sqlite3.connect(settings.home / "events.db", timeout=60)) as look:
                return int(look.execute("SELECT coalesce(max(rowid), 0) FROM stored_events").fetchall()[0][0])

        lock = lambda: conn.execute("BEGIN IMMEDIATE") and None  # noqa: E731
    else:
        with build(settings) as svc:
            recorder: Any = svc.app.recorder
            table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'
        conn = psycopg.connect(**settings.pg_connect_kwargs(), autocommit=True)  # type: ignore[assignment]
        head = lambda: int(conn.execute(f"SELECT coalesce(max(notification_id), 0) FROM {table}").fetchall()[0][0])  # noqa: E731
        lock = lambda: conn.execute(f"BEGIN; LOCK TABLE {table} IN EXCLUSIVE MODE") and None  # noqa: E731
    try:
        yield head, lock
    finally:
        with contextlib.suppress(Exception):
            conn.execute("ROLLBACK")
        conn.close()


def draft_size(agnt5, dataset: str) -> int:
    agnt5("projections", "catch-up")  # the killed writer never caught its read model up
    return int(data(agnt5("datasets", "show", dataset, "--format", "json"))["draft_items"])


def topics_since(position: int) -> list[str]:
    with build() as svc:
        return [n.topic.rsplit(":", 1)[1] for n in svc.app.recorder.select_notifications(position + 1, 100_000)]


def test_a_killed_upload_adds_nothing_and_a_second_upload_adds_each_item_once(agnt5, store: str, tmp_path: Path):
    n_items = N_ITEMS[store]
    dataset = out(agnt5("datasets", "create", "--name", "big"))
    agnt5("datasets", "upload", dataset, input="\n".join(json.dumps({"input": {"n": n}}) for n in range(3)))
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(json.dumps({"input": {"n": n}, "expected_output": n}) for n in range(n_items)))
    head = log_head()

    upload = [sys.executable, "-c", "from agnt5_evals.cli.main import main; main()"]
    proc = subprocess.Popen([*upload, "datasets", "upload", dataset, "--file", str(path)], env=os.environ.copy(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    with log_access() as (log_now, hold_log):
        try:  # at its first staged chunk, hold the log's write lock: the upload cannot get further, then kill it
            deadline = time.monotonic() + 120
            while log_now() == head and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)
            hold_log()
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the upload finished before it was killed"

    written = topics_since(head)
    assert written and set(written) == {"UploadChunk.Created"}  # staged, never committed
    assert draft_size(agnt5, dataset) == 3  # exactly as before

    agnt5("datasets", "upload", dataset, "--file", str(path))
    assert draft_size(agnt5, dataset) == 3 + n_items
    assert topics_since(head).count("Dataset.UploadCommitted") == 1
