"""The SQLite store on a full or read-only disk: one clear ``Unavailable`` error naming the file, and reads that go on.

Every SQLite transaction of this process (the event log, the read model, a scratch rebuild) passes through
``GuardedDatastore.transaction``, so this is the one place where the disk's errors become ours: "database or disk
is full", "attempt to write a readonly database", "unable to open database file" (SQLite cannot create its
``-wal``/``-shm`` files) and ``OSError`` ENOSPC/EROFS. Any other error (a conflict, a real bug) passes unchanged.
A failed transaction is rolled back by SQLite, so a write that fails here wrote nothing.

A read-only mount: SQLite cannot open a WAL database read-write there, and it cannot open it ``mode=ro`` either
unless the ``-shm`` file already exists. The store is then opened ``mode=ro`` when the ``-shm`` file is there,
else ``immutable=1`` when no write-ahead log holds anything (the database file then holds every committed write,
and nobody can write it while the mount is read-only); a store whose log was never checkpointed and that SQLite
cannot read without creating files is refused with a clear error rather than read without its last writes.

A new event log is created with pages of ``PAGE_SIZE`` bytes (``SQLITE_PAGE_SIZE`` in the environment; SQLite's
default is 4,096): a run item's event (about 1,300 bytes) fits twice in a 4 KiB page, leaving a third of every page
empty, and a dozen times in a 16 KiB one. The page size of an existing file cannot change (in WAL mode), so only
stores created after this read it. Such a store checkpoints its write-ahead log after as many bytes as SQLite's
default does (the log, which a checkpoint rewinds but does not shrink, then stays as large as it was).
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from eventsourcing.persistence import PersistenceError
from eventsourcing.sqlite import (
    SQLITE3_DEFAULT_LOCK_TIMEOUT,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteFactory,
)
from eventsourcing.utils import Environment, EnvType

from agnt5_evals.domain.errors import Unavailable

TOPIC = "agnt5_evals.adapters.sqlitestore:GuardedSQLiteFactory"
NOTHING_WRITTEN = "; nothing was written"
FIELD = "AGNT5_HOME"
WAL_CHECKPOINT_BYTES = 1000 * 4096  # SQLite's default: a checkpoint every 1,000 pages of 4 KiB
PAGE_SIZE = "SQLITE_PAGE_SIZE"  # the environment's key: the page size of a database file this creates (0: SQLite's)


def read_only(path: Path) -> bool:
    """Whether ``path`` (a directory, or a file's directory) is on a read-only mount."""
    folder = path if path.is_dir() else path.parent
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _full(path: Path) -> bool:
    folder = path if path.is_dir() else path.parent
    try:
        return os.statvfs(folder).f_bavail == 0
    except OSError:
        return False


def disk_error(exc: BaseException, path: Path, *, writing: bool = True) -> Unavailable | None:
    """The ``Unavailable`` error of a full or read-only disk under ``path``, or None for any other error."""
    cause = exc.__cause__ if isinstance(exc, PersistenceError) and exc.__cause__ is not None else exc
    text = str(cause).lower()
    code = getattr(cause, "errno", None) if isinstance(cause, OSError) else None
    tail = NOTHING_WRITTEN if writing else ""
    if code == errno.ENOSPC or "database or disk is full" in text:
        return Unavailable(f"the store at {path} is full: free some space on its disk and try again{tail}", FIELD)
    if code == errno.EROFS or "readonly database" in text or "read-only file system" in text:
        return read_only_error(path, tail)
    if "unable to open database file" in text or "disk i/o error" in text:
        if read_only(path):
            return read_only_error(path, tail)
        if _full(path):
            return Unavailable(f"the store at {path} is full: free some space on its disk and try again{tail}", FIELD)
    return None


def read_only_error(path: Path, tail: str = NOTHING_WRITTEN) -> Unavailable:
    return Unavailable(
        f"the store at {path} is read-only: reads still answer; remount it read-write (or set AGNT5_HOME to a "
        f"writable directory) to write{tail}",
        FIELD,
    )


def read_only_uri(path: Path) -> str:
    """How SQLite can read a WAL store on a read-only mount without creating a file (see the module's docstring)."""
    base = f"file:{quote(str(path))}"
    if Path(f"{path}-shm").exists():
        return f"{base}?mode=ro"
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise Unavailable(
            f"the store at {path} is read-only and its write-ahead log {wal} was never checkpointed, so SQLite "
            "cannot read it without writing: remount it read-write once to read it",
            FIELD,
        )
    return f"{base}?immutable=1"


def create_file(path: Path, page_size: int) -> None:
    """Create the empty database file ``path`` in WAL mode with pages of ``page_size`` bytes (switching to WAL
    writes the header, which fixes the page size; a file another process created meanwhile keeps its own)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(f"PRAGMA page_size = {int(page_size)}")
        conn.execute("PRAGMA journal_mode = WAL")
    finally:
        conn.close()


class GuardedConnectionPool(SQLiteConnectionPool):
    """Opens the store read-only (without switching it to WAL) when it sits on a read-only mount; creates a new
    file with pages of ``page_size`` bytes (0: SQLite's default)."""

    page_size = 0

    def _create_connection(self) -> SQLiteConnection:
        path = Path(self.db_name)
        if self.is_sqlite_memory_mode or self.db_name.startswith("file:") or not read_only(path):
            plain_file = not self.is_sqlite_memory_mode and not self.db_name.startswith("file:")
            if self.page_size and plain_file and (not path.exists() or path.stat().st_size == 0):
                create_file(path, self.page_size)
            connection = super()._create_connection()
            if self.page_size:  # checkpoint after as many bytes of log as SQLite's default does (1,000 4 KiB pages)
                cursor = connection.cursor()
                cursor.execute("PRAGMA page_size")
                size = int(cursor.fetchone()[0])
                cursor.execute(f"PRAGMA wal_autocheckpoint = {max(1, WAL_CHECKPOINT_BYTES // size)}")
            return connection
        try:
            uri = read_only_uri(path)
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None,
                                   timeout=self.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT)  # fmt: skip
        except sqlite3.Error as exc:
            raise read_only_error(path, "") from exc
        conn.row_factory = sqlite3.Row
        return SQLiteConnection(sqlite_conn=conn, max_age=self.max_age)


class GuardedDatastore(SQLiteDatastore):
    """``SQLiteDatastore`` whose transactions turn a full or read-only disk into one ``Unavailable`` error."""

    def __init__(self, db_name: str, **kwargs: Any) -> None:
        super().__init__(db_name, **kwargs)
        self.path = Path(db_name)
        old = self.pool
        self.pool = GuardedConnectionPool(db_name=db_name, lock_timeout=old.lock_timeout)
        old.close()

    @contextmanager
    def transaction(self, *, commit: bool) -> Iterator[SQLiteCursor]:
        try:
            with super().transaction(commit=commit) as cursor:
                yield cursor
        except (PersistenceError, sqlite3.Error, OSError) as exc:
            error = disk_error(exc, self.path, writing=commit)
            if error is None:
                raise
            raise error from None


class GuardedSQLiteFactory(SQLiteFactory):
    """The library's SQLite factory with ``GuardedDatastore`` (``PERSISTENCE_MODULE`` names this class)."""

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        plain = self.datastore
        self.datastore = GuardedDatastore(
            plain.pool.db_name,
            lock_timeout=plain.pool.lock_timeout,
            single_row_tracking=plain.single_row_tracking,
            originator_id_type=plain.originator_id_type,
        )
        pool = self.datastore.pool
        assert isinstance(pool, GuardedConnectionPool)
        pool.page_size = int(self.env.get(PAGE_SIZE) or 0)
        plain.close()
