"""SQLite on a full or read-only disk: writes refused with one clear line, reads kept, the log intact.

The store lives on a small tmpfs mounted for the test (SQLite only: it is the store whose disk is ours; a full
PostgreSQL disk is the server's error, reported as the server's). Mounting needs CAP_SYS_ADMIN: without it (an
unprivileged container) the tests skip, saying so. The real ``agnt5`` command runs in its own processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agnt5_evals.api.main import create_app
from tests.reliability.harness import agnt5

SIZE = "32m"  # the store, a 10,000-item upload and its publish fit once the filler is gone
BIG = 10_000


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False)


@contextlib.contextmanager
def small_disk(where: Path, size: str = SIZE) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` for the block; always unmounted (lazily if still busy)."""
    where.mkdir(parents=True, exist_ok=True)
    mounted = _run("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where))
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        _run("mount", "-o", "remount,rw", str(where))
        if _run("umount", str(where)).returncode != 0:
            _run("umount", "-l", str(where))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """AGNT5_HOME on its own small disk (SQLite: AGNT5_DATABASE_URL unset by the autouse fixture)."""
    with small_disk(tmp_path / "disk") as disk:
        monkeypatch.setenv("AGNT5_HOME", str(disk / "home"))
        yield disk / "home"


def fill(disk: Path, leave: int = 0) -> Path:
    """Write a filler file until the disk has about ``leave`` bytes free (0: until it is full)."""
    filler = disk / f"filler-{uuid.uuid4().hex[:8]}"
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    block = b"\0" * (1 << 16)
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        written = 0
        while leave == 0 or written < free - leave:
            written += os.write(fd, block if leave == 0 else block[: min(len(block), free - leave - written)])
    except OSError:  # ENOSPC: full
        pass
    finally:
        os.close(fd)
    return filler


def jsonl(path: Path, count: int, pad: int = 0) -> Path:
    path.write_text("".join(json.dumps({"input": {"n": n, "pad": "x" * pad}}) + "\n" for n in range(count)))
    return path


def refused(*args: str, says: str, home: Path) -> str:
    """``agnt5 ARGS`` fails with exit 1 and one ``error:`` line naming a file of the store and what is wrong."""
    done = agnt5(*args, check_rc=False)
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr and len(lines) == 1, done.stderr
    line = lines[0]
    assert line.startswith(f"error: AGNT5_HOME: the store at {home}/") and says in line, line
    return line


def answers(dataset: str) -> dict[str, str]:
    """What the reads answer (compared before and after: identical)."""
    return {
        "list": agnt5("datasets", "list", "--format", "json").stdout,
        "show": agnt5("datasets", "show", dataset, "--format", "json").stdout,
        "versions": agnt5("datasets", "versions", "list", dataset, "--format", "json").stdout,
    }


def versions_items(dataset: str) -> list[int]:
    """The item counts of the dataset's versions, in order."""
    rows = json.loads(agnt5("datasets", "versions", "list", dataset, "--format", "json").stdout)
    return [row["n_items"] for row in sorted(rows, key=lambda row: row["number"])]


def intact(home: Path) -> None:
    """SQLite finds every file sound; the invariants hold; every digest verifies."""
    for name in sorted(p.name for p in home.glob("*.db")):
        with contextlib.closing(sqlite3.connect(home / name)) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)], name
    agnt5("audit", "check")
    agnt5("audit", "verify", "--all")


def a_dataset(tmp_path: Path) -> str:
    dataset = agnt5("datasets", "create", "--name", "on-a-small-disk").stdout.strip()
    agnt5("datasets", "upload", dataset, "--file", str(jsonl(tmp_path / "small.jsonl", 50)))
    agnt5("datasets", "publish", dataset, "--description", "fifty")
    return dataset


def draft_items(dataset: str) -> int:
    return int(json.loads(agnt5("datasets", "show", dataset, "--format", "json").stdout)["draft_items"])


def test_full_disk_refuses_writes_with_one_line_and_the_retry_writes_once(home: Path, tmp_path: Path) -> None:
    dataset = a_dataset(tmp_path)
    before = answers(dataset)
    big = jsonl(tmp_path / "big.jsonl", BIG, pad=100)  # ~1.5 MB, off the small disk

    filler = fill(home.parent, leave=256 * 1024)  # room to open the store, not to write the upload
    refused("datasets", "upload", dataset, "--file", str(big), says="is full: free some space", home=home)
    assert answers(dataset) == before  # nothing of the failed upload is visible

    topped = fill(home.parent)  # not a byte left: every write, and opening the store, says so
    for args in (["datasets", "upload", dataset, "--file", str(big)], ["datasets", "publish", dataset],
                 ["datasets", "create", "--name", "another"]):  # fmt: skip
        refused(*args, says="is full: free some space", home=home)

    filler.unlink()
    topped.unlink()
    assert answers(dataset) == before
    intact(home)
    agnt5("datasets", "upload", dataset, "--file", str(big))  # the retry: written once, all of it
    assert draft_items(dataset) == 50 + BIG
    agnt5("datasets", "publish", dataset)
    assert versions_items(dataset) == [50, 50 + BIG]
    intact(home)


def test_full_disk_answers_503_over_rest(home: Path, tmp_path: Path) -> None:
    a_dataset(tmp_path)
    with TestClient(create_app()) as client:  # a server started while there was room
        filler = fill(home.parent)
        try:
            response = client.post("/api/v1/datasets", json={"name": "no-room"})
        finally:
            filler.unlink()
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "unavailable" and body["field"] == "AGNT5_HOME" and "is full" in body["message"]
    intact(home)


def test_read_only_store_answers_reads_and_refuses_writes(home: Path, tmp_path: Path) -> None:
    dataset = a_dataset(tmp_path)
    small = jsonl(tmp_path / "more.jsonl", 10)
    agnt5("datasets", "upload", dataset, "--file", str(small))  # a draft with changes, to publish
    before = answers(dataset)

    assert _run("mount", "-o", "remount,ro", str(home.parent)).returncode == 0
    assert answers(dataset) == before  # reads answer from the read-only files
    agnt5("audit", "verify", "--all")  # and so does verifying the log
    for args in (["datasets", "upload", dataset, "--file", str(small)], ["datasets", "publish", dataset],
                 ["datasets", "create", "--name", "another"]):  # fmt: skip
        refused(*args, says="is read-only: reads still answer; remount it read-write", home=home)

    assert _run("mount", "-o", "remount,rw", str(home.parent)).returncode == 0
    assert answers(dataset) == before
    intact(home)
    agnt5("datasets", "publish", dataset)  # the retries: each written once
    agnt5("datasets", "upload", dataset, "--file", str(small))
    assert versions_items(dataset) == [50, 60] and draft_items(dataset) == 70
    intact(home)
