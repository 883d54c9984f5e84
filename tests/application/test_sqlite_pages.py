"""The embedded store's event log is created with 16 KiB pages (a run item's event fills a third of a 4 KiB page's
space with nothing); the read model keeps SQLite's default; an existing log keeps the page size it has.

SQLite only: the page size is a property of its files (PostgreSQL's pages are the server's).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from agnt5_evals.adapters.bootstrap import Services, Settings
from agnt5_evals.adapters.settings import EVENTS_PAGE_SIZE
from agnt5_evals.projections.schema import VIEW_NAME


def _pragma(path: Path, name: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"PRAGMA {name}").fetchone()[0])
    finally:
        conn.close()


def test_a_new_event_log_has_large_pages_and_the_view_the_default(isolated_home: Path) -> None:
    with Services(Settings.from_env()) as svc:
        svc.app.create_dataset("pages")
        svc.catch_up()
    assert _pragma(isolated_home / "events.db", "page_size") == int(EVENTS_PAGE_SIZE) == 16384
    assert _pragma(isolated_home / f"views-{VIEW_NAME}.db", "page_size") == 4096
    conn = sqlite3.connect(isolated_home / "events.db")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_an_existing_event_log_keeps_its_pages(isolated_home: Path) -> None:
    isolated_home.mkdir(parents=True)
    conn = sqlite3.connect(isolated_home / "events.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")  # a log created before: SQLite's 4 KiB pages
    conn.close()
    with Services(Settings.from_env()) as svc:
        svc.app.create_dataset("pages")
        svc.catch_up()
        assert [d["name"] for d in svc.view.query("SELECT name FROM {p}datasets")] == ["pages"]
    assert _pragma(isolated_home / "events.db", "page_size") == 4096
