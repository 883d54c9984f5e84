"""Where the store is and how to open it: settings from the environment, and the retry and error wording every
opening shares. Light on purpose (no application, no domain aggregates): the read-only CLI path imports it."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlparse

from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    InternalError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
)

from agnt5_evals.adapters.sqlitestore import PAGE_SIZE as SQLITE_PAGE_SIZE
from agnt5_evals.adapters.sqlitestore import TOPIC as SQLITE_TOPIC
from agnt5_evals.adapters.sqlitestore import read_only
from agnt5_evals.domain.errors import Invalid, Unavailable
from agnt5_evals.projections.schema import VIEW_NAME

EVENTS_PAGE_SIZE = "16384"  # the event log's pages on SQLite (adapters.sqlitestore)
MAX_OVERFLOW = 8  # connections a PostgreSQL pool opens past ``pool_size`` when they are all busy
EXECUTORS = ("auto", "local", "queue")  # auto: the worker pool on a PostgreSQL store migrated for it, else local


@dataclass(frozen=True)
class Settings:
    """Where the data lives: a SQLite directory (default) or a PostgreSQL URL."""

    home: Path
    database_url: str = ""
    pool_size: int = 2
    create_tables: bool = True  # workers of existing runs skip the DDL (the tables exist already)
    executor: str = "auto"  # "queue": runs are sharded and executed by the worker pool (worker.pool; PostgreSQL)

    @classmethod
    def from_env(cls) -> Settings:
        home = Path(os.environ.get("AGNT5_HOME") or Path.home() / ".agnt5").expanduser()
        url = os.environ.get("AGNT5_DATABASE_URL", "").strip()
        executor = os.environ.get("AGNT5_EXECUTOR", "").strip().lower() or "auto"
        if executor not in EXECUTORS:
            raise Invalid(f"must be one of {', '.join(EXECUTORS)}, got {executor!r}", field="AGNT5_EXECUTOR")
        if executor == "queue" and not url:
            raise Invalid("the queue executor needs AGNT5_DATABASE_URL=postgresql://...", field="AGNT5_EXECUTOR")
        return cls(home=home, database_url=url, executor=executor)

    @property
    def connections(self) -> int | None:
        """The most connections each pool (the store's, the view's) opens on PostgreSQL; None on SQLite."""
        return self.pool_size + MAX_OVERFLOW if self.database_url else None

    @property
    def queued(self) -> bool:
        """Whether runs surely go to the worker pool (``agnt5 worker``); with ``auto``, ``Services.queued`` knows."""
        return self.executor == "queue"

    @property
    def pg_schema(self) -> str:
        return self.persistence_env()["POSTGRES_SCHEMA"] if self.database_url else ""

    @property
    def store(self) -> str:
        return "postgresql" if self.database_url else "sqlite"

    def persistence_env(self) -> dict[str, str]:
        create = "y" if self.create_tables else "n"
        if not self.database_url:
            self.home.mkdir(parents=True, exist_ok=True)
            if read_only(self.home):  # the tables exist or the store is empty; either way nothing can be created
                create = "n"
            return {
                "PERSISTENCE_MODULE": SQLITE_TOPIC,  # the library's, with a full or read-only disk made clear
                "SQLITE_DBNAME": str(self.home / "events.db"),
                SQLITE_PAGE_SIZE: EVENTS_PAGE_SIZE,  # a new log's pages (adapters.sqlitestore: less space unused)
                "CREATE_TABLE": create,
            }
        url = urlparse(self.database_url)
        if url.scheme not in ("postgresql", "postgres"):
            raise Invalid(f"expected postgresql://..., got scheme {url.scheme!r}", field="AGNT5_DATABASE_URL")
        query = parse_qs(url.query)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": url.path.lstrip("/") or "postgres",
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            "POSTGRES_SCHEMA": query.get("schema", ["public"])[0],
            "POSTGRES_POOL_SIZE": str(self.pool_size),
            "POSTGRES_MAX_OVERFLOW": str(MAX_OVERFLOW),
            "POSTGRES_CONNECT_TIMEOUT": os.environ.get("AGNT5_PG_CONNECT_TIMEOUT_S", "5"),
            "CREATE_TABLE": create,
            "APPLICATION_RECORDER_TOPIC": "agnt5_evals.adapters.pgstore:ArrayInsertRecorder",
        }

    def pg_connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``psycopg.connect`` for the PostgreSQL store."""
        env = self.persistence_env()
        return {
            "host": env["POSTGRES_HOST"],
            "port": int(env["POSTGRES_PORT"]),
            "user": env["POSTGRES_USER"],
            "password": env["POSTGRES_PASSWORD"],
            "dbname": env["POSTGRES_DBNAME"],
        }

    def view_env(self) -> dict[str, str]:
        env = self.persistence_env()
        if not self.database_url:
            env["SQLITE_DBNAME"] = str(self.home / f"views-{VIEW_NAME}.db")
            env.pop(SQLITE_PAGE_SIZE)  # the read model's rows are small and its indexes written at random places
        return env


T = TypeVar("T")


def dropped(exc: Exception) -> bool:
    """Whether ``exc`` is a lost or unreachable database connection: the store library's error, or psycopg's own
    from a connection we open (a run lock's probe, the worker pool's queue); psycopg is imported only for
    PostgreSQL."""
    psycopg = sys.modules.get("psycopg")
    raw = () if psycopg is None else (psycopg.OperationalError, psycopg.InterfaceError)
    return isinstance(exc, (OperationalError, InterfaceError, *raw))


def with_ddl_retry(settings: Settings, construct: Callable[[], T], attempts: int = 8) -> T:
    """Construct a recorder, retrying when another process runs the same CREATE ... IF NOT EXISTS.

    PostgreSQL answers concurrent catalog updates with "tuple concurrently updated" or a duplicate key, and may
    break a lock cycle between the DDL's locks and another process's writes with "deadlock detected". A store
    that cannot be opened at all is one clear ``Unavailable`` error.
    """
    for attempt in range(attempts):
        try:
            return construct()
        except (InternalError, IntegrityError, ProgrammingError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
        except (PersistenceError, OSError) as exc:
            if transient(exc) and attempt < attempts - 1:  # the server broke a lock cycle: try again
                time.sleep(0.05 * (attempt + 1))
                continue
            raise Unavailable(why_unavailable(settings, exc)) from None
    raise AssertionError("unreachable")


def transient(exc: Exception) -> bool:
    """A deadlock or serialization failure: PostgreSQL aborted this transaction so that another could go on."""
    text = str(exc)
    return "deadlock detected" in text or "could not serialize access" in text


def why_unavailable(settings: Settings, exc: Exception) -> str:
    if not settings.database_url:
        return f"AGNT5_HOME: cannot open the store in {settings.home}: {exc}"
    import psycopg

    kwargs = settings.pg_connect_kwargs()
    where = f"{kwargs['user']}@{kwargs['host']}:{kwargs['port']}/{kwargs['dbname']}"
    try:  # the pool only says it timed out: ask the server once for the real reason
        psycopg.connect(**kwargs, connect_timeout=3).close()
    except psycopg.Error as reason:
        return f"AGNT5_DATABASE_URL: cannot connect to {where}: {str(reason).strip().splitlines()[-1]}"
    return f"AGNT5_DATABASE_URL: cannot open the store at {where}: {exc}"
