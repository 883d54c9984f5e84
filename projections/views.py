"""The read model store: view tables plus a tracking row, written in one transaction per batch.

The same SQL serves both stores: templates use ``{p}`` for the table prefix and ``?`` placeholders.

Generations: the view's tables exist in numbered generations (``g<n>_`` table prefix and a tracking row of its
own, generation 0 being the unprefixed tables of older stores); one row of the ``generation`` table names the
live one. A rebuild fills a new generation from position 0 while the live one keeps serving reads and catching
up, then switches the row in one transaction once the new one holds at least what the live one holds. Every query
reads the row in its own transaction, and every batch checks it in its transaction (after its tracking insert),
so a batch computed for a generation that is no longer live rolls back instead of landing anywhere.
"""

from __future__ import annotations

import copy
import threading
import time
from abc import abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from eventsourcing.persistence import IntegrityError, PersistenceError, Tracking, TrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder

from agnt5_evals.domain.lazy import LazyModule
from agnt5_evals.projections.schema import (
    GENERATION_COLUMNS,
    GENERATION_TABLE,
    TABLES,
    create_statements,
    drop_statements,
    generation_prefix,
    index_statements,
)

if TYPE_CHECKING:  # the write path's: a read-only command (runs show, reports ci) never imports them
    from agnt5_evals.projections import handlers, vectors
    from agnt5_evals.projections.handlers import Op
else:
    handlers = LazyModule("agnt5_evals.projections.handlers")
    vectors = LazyModule("agnt5_evals.projections.vectors")

Row = dict[str, Any]
GROWN = ("dataset_items", "run_items", "scores")  # the tables a published version or an ended run grows
BULK_CACHE_KIB, DEFAULT_CACHE_KIB = -262_144, -2_000  # SQLite's page cache: 256 MiB, its default 2 MB
LOCKED_ATTEMPTS = 10  # SQLite: tries of a read-then-write transaction whose snapshot went stale


class Switched(Exception):
    """The batch was computed for a generation of the view that is no longer live (a rebuild switched)."""


def generation_of(tracking_name: str) -> int:
    """The generation a tracking row belongs to: ``<application>@g<n>``, or 0 for the plain application name."""
    _, sep, suffix = tracking_name.rpartition("@g")
    return int(suffix) if sep and suffix.isascii() and suffix.isdecimal() else 0


@lru_cache(maxsize=512)
def format_sql(template: str, prefix: str, paramstyle: str) -> str:
    sql = template.replace("{p}", prefix)
    return sql.replace("?", "%s") if paramstyle == "format" else sql


T = TypeVar("T")
_READING = threading.local()  # this thread's open read (``EvalsView.reading``): the view, its cursor and generation


class EvalsView(TrackingRecorder):
    """The read model: apply batches of row operations with their tracking position; answer queries."""

    base = ""  # the prefix of every table of this view (the schema on PostgreSQL), before the generation's
    prefix = ""  # the tables of ``generation``
    generation = 0  # the live generation when this process last looked (or the one a rebuild builds, if pinned)
    pinned = False  # a rebuild's view of its new generation: never follows the live row
    # a rebuild's first pass over the log (``begin_generation``): no secondary indexes, run or version vectors or
    # statistics are kept up to date batch by batch; ``finish_bulk`` builds them once, from the rows loaded
    bulk = False
    paramstyle = "qmark"
    real = "REAL"
    blob = "BLOB"
    tracking_table = "tracking"
    datastore: Any

    @abstractmethod
    def execute(self, cursor: Any, sql: str, params: Any = (), binary: bool = False) -> None:
        """Run one statement written with ``?`` placeholders (no ``{p}``); ``binary``: ask for the results in the
        store's binary format (PostgreSQL: a large bytea without its hex text)."""

    @abstractmethod
    def executemany(self, cursor: Any, sql: str, rows: list[tuple[Any, ...]]) -> None: ...

    @abstractmethod
    def exists(self, cursor: Any, table: str) -> bool: ...

    def fetch_rows(self, cursor: Any) -> list[Row]:
        """The rows of the statement just run, each a new dict."""
        return [dict(row) for row in cursor.fetchall()]

    @abstractmethod
    def write_tracking(self, cursor: Any, tracking: Tracking) -> None:
        """The recorder's tracking upsert (it rejects a position not past the stored one)."""

    def sql(self, template: str, generation: int | None = None) -> str:
        gen = self.generation if generation is None else generation
        return format_sql(template, self.base + generation_prefix(gen), self.paramstyle)

    def tracking_name(self, application_name: str, generation: int | None = None) -> str:
        gen = self.generation if generation is None else generation
        return f"{application_name}@g{gen}" if gen else application_name

    def _bind(self, generation: int) -> None:
        self.generation = generation
        self.prefix = self.base + generation_prefix(generation)

    def _live(self, cursor: Any, lock: str = "") -> int:
        self.execute(cursor, f"SELECT live FROM {self.base}{GENERATION_TABLE} WHERE id = 1{lock}")
        row = cursor.fetchone()
        return 0 if row is None else int(row["live"])

    def _one_value(self, cursor: Any, sql: str, params: tuple[Any, ...]) -> int:
        self.execute(cursor, sql, params)
        row = cursor.fetchone()
        return 0 if row is None else int(next(iter(dict(row).values())) or 0)

    def analyze_tables(self, cursor: Any, generation: int, tables: tuple[str, ...]) -> None:
        """Refresh the planner's statistics of these tables after a batch that grew them by a whole run or version
        (SQLite: nothing to do)."""

    def analyze(self) -> None:
        """Gather the query planner's statistics of this generation's tables (a rebuild, before it switches).
        SQLite plans these reads well from the indexes alone: nothing to do."""

    def refresh(self) -> int:
        """Read which generation is live (a rebuild may have switched since this process looked) and return it."""
        if not self.pinned:
            with self.datastore.transaction(commit=False) as cursor:
                self._bind(self._live(cursor))
        return self.generation

    def apply(self, ops: list[Op], tracking: Tracking, start: int | None = None) -> None:
        """Write the operations and the tracking position atomically (a stale position raises ``IntegrityError``;
        a batch for a generation that is no longer live raises ``Switched``).

        ``start``: the position the batch was computed after. Many processes catch the same view up, and two may
        compute overlapping batches from the same position; the tracking row only refuses going backwards, so the
        second batch would apply the events both hold twice (counters counted twice). With ``start``, a batch
        applies only if the view still stands there (else ``IntegrityError``: read the position and go on).
        """
        generation = generation_of(tracking.application_name)
        with self.datastore.transaction(commit=True) as cursor:
            if start is not None:
                self.lock_for_switch(cursor)  # SQLite: the write lock, before the position is read
                track = f"SELECT notification_id FROM {self.tracking_table} WHERE application_name = ?"
                held = self._one_value(cursor, track + self.update_lock, (tracking.application_name,))
                if held != start:
                    raise IntegrityError(f"the view moved from {start} to {held} while this batch was computed")
            self.write_tracking(cursor, tracking)  # it takes the write lock (SQLite), the row lock (PG)
            if self.bulk:
                self.tune(cursor, bulk=True)
            if not self.pinned and self._live(cursor, self.share_lock) != generation:
                raise Switched(f"generation {generation} of the read model is no longer live")
            touched: set[str] = set()
            versions: set[str] = set()
            ended = False
            for template, rows in handlers.batched(ops):
                self.executemany(cursor, self.sql(template, generation), rows)
                if self.bulk:
                    continue
                ended = ended or template == handlers.FINISH_RUN
                if template in vectors.TOUCHES:
                    touched.update(self._touched_runs(cursor, template, rows, generation))
                elif template == handlers.INSERT_VERSION:
                    versions.update(str(row[0]) for row in rows)
            if touched:
                vectors.build(self, cursor, generation, touched)
            if versions:
                vectors.build_versions(self, cursor, generation, versions)
            if versions or ended:
                self.analyze_tables(cursor, generation, GROWN)

    def _touched_runs(self, cursor: Any, template: str, rows: list[tuple[Any, ...]], generation: int) -> set[str]:
        """The runs whose items, scores, end or rescores a batch's rows of ``template`` write."""
        index, of_rescores = vectors.TOUCHES[template]
        ids = {str(row[index]) for row in rows}
        if not of_rescores:
            return ids
        found: set[str] = set()
        for rescore_id in ids:
            self.execute(cursor, self.sql("SELECT run_id FROM {p}rescores WHERE id = ?", generation), (rescore_id,))
            found.update(str(dict(row)["run_id"]) for row in cursor.fetchall())
        return found

    share_lock = ""
    # ``query(..., hash_joins=True)``: a join of two whole sides, which a planner without statistics (a view just
    # built) can turn into a nested loop that scans one side per row of the other; PostgreSQL is told not to
    hash_joins_only = ""

    def query(
        self, template: str, params: tuple[Any, ...] = (), binary: bool = False, hash_joins: bool = False
    ) -> list[Row]:
        """Answer from the live generation; a query that lost its tables to a switch asks the new one. Inside
        ``reading`` (and not ``hash_joins``, whose setting lasts for the transaction), in the read's transaction."""
        if getattr(_READING, "view", None) is self and not hash_joins:
            self.execute(_READING.cursor, self.sql(template, _READING.generation), params, binary)
            rows: list[Row] = self.fetch_rows(_READING.cursor)
            return rows
        for attempt in range(3):
            generation = self.generation
            try:
                with self.datastore.transaction(commit=False) as cursor:
                    if not self.pinned:
                        generation = self._live(cursor)
                        self._bind(generation)
                    if hash_joins and self.hash_joins_only:
                        self.execute(cursor, self.hash_joins_only)
                    self.execute(cursor, self.sql(template, generation), params, binary)
                    return self.fetch_rows(cursor)
            except PersistenceError:
                if attempt == 2 or self.pinned or self.refresh() == generation:
                    raise
        raise AssertionError("unreachable")

    def reading(self, read: Callable[[], T]) -> T:
        """``read()``, its queries (this thread's) in one transaction of the live generation: a page of a read
        makes several small queries, and each alone would open a transaction and look the generation up (on
        PostgreSQL, four round trips for one query). Read again in a new transaction if a rebuild's switch dropped
        the generation's tables meanwhile; inside another ``reading``, in that one."""
        if getattr(_READING, "view", None) is self or self.pinned:
            return read()
        outer = (getattr(_READING, "view", None), getattr(_READING, "cursor", None), getattr(_READING, "generation", 0))
        for attempt in range(3):
            generation = self.generation
            try:
                with self.datastore.transaction(commit=False) as cursor:
                    generation = self._live(cursor)
                    self._bind(generation)
                    _READING.view, _READING.cursor, _READING.generation = self, cursor, generation
                    try:
                        return read()
                    finally:  # back to the outer reading of another view, if any
                        _READING.view, _READING.cursor, _READING.generation = outer
            except PersistenceError:
                if attempt == 2 or self.refresh() == generation:
                    raise
        raise AssertionError("unreachable")

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=True) as cursor:
            yield cursor

    def create_generation_tables(self, generation: int, indexes: bool = True) -> None:
        """Create a generation's tables unless they exist.

        The check reads before the DDL writes, so on SQLite another writer's commit in between makes the upgrade to
        a write fail at once with "database is locked" (no busy wait for a stale read snapshot): try again, the
        check makes it idempotent.
        """
        prefix = self.base + generation_prefix(generation)
        for attempt in range(1, LOCKED_ATTEMPTS + 1):
            try:
                with self._transaction() as cursor:
                    if not self.exists(cursor, prefix + next(reversed(TABLES))):  # created with all the others
                        for statement in create_statements(prefix, self.real, generation, self.blob, indexes):
                            self.execute(cursor, statement)
                return
            except PersistenceError as exc:
                if "database is locked" not in str(exc) or attempt == LOCKED_ATTEMPTS:
                    raise
                time.sleep(0.02 * attempt)

    def begin_generation(self) -> EvalsView:
        """Take a new generation number, create its empty tables, return a view of it (not live) in bulk mode."""
        with self._transaction() as cursor:
            pointer = f"{self.base}{GENERATION_TABLE}"
            self.execute(cursor, f"INSERT INTO {pointer} VALUES (1, 0, 1) ON CONFLICT (id) DO NOTHING")
            taken = f"UPDATE {pointer} SET next = next + 1 WHERE id = 1 RETURNING next - 1"
            generation = self._one_value(cursor, taken, ())
        building = copy.copy(self)
        building.pinned = True
        building.bulk = True
        building._bind(generation)
        building.create_generation_tables(generation, indexes=False)
        return building

    def finish_bulk(self) -> None:
        """End a rebuild's first pass: create the indexes (one sorted build each, instead of a random insert per row
        and index), build every run's and version's vectors from the rows (what the last batch touching each one
        built batch by batch), gather the statistics; later batches keep them up to date as usual."""
        with self._transaction() as cursor:
            self.tune(cursor, bulk=True)
            for statement in index_statements(self.prefix, self.generation):
                self.execute(cursor, statement)
            self.execute(cursor, self.sql("SELECT id FROM {p}runs"))
            runs = {str(dict(row)["id"]) for row in cursor.fetchall()}
            self.execute(cursor, self.sql("SELECT id FROM {p}dataset_versions"))
            versions = {str(dict(row)["id"]) for row in cursor.fetchall()}
            vectors.build(self, cursor, self.generation, runs)
            vectors.build_versions(self, cursor, self.generation, versions)
            self.tune(cursor, bulk=False)
        self.bulk = False
        self.analyze()

    def switch(self, building: EvalsView, application_name: str) -> bool:
        """Make ``building``'s generation live, in one transaction, if it holds at least the live one's position;
        False when it does not yet (catch it up and try again). An older rebuild never replaces a newer one."""
        new = building.generation
        with self._transaction() as cursor:
            self.lock_for_switch(cursor)
            old = self._live(cursor)
            if old >= new:
                return True  # a later rebuild switched first: this generation is abandoned (dropped later)
            track = f"SELECT notification_id FROM {self.tracking_table} WHERE application_name = ?"
            held = self._one_value(cursor, track + self.update_lock, (self.tracking_name(application_name, old),))
            built = self._one_value(cursor, track, (self.tracking_name(application_name, new),))
            if built < held:
                return False
            self.execute(cursor, f"UPDATE {self.base}{GENERATION_TABLE} SET live = ? WHERE id = 1", (new,))
        self._bind(new)
        return True

    def drop_old_generations(self, application_name: str) -> None:
        """Drop the generations older than the live one, a table per transaction (no lock cycles with readers)."""
        with self.datastore.transaction(commit=False) as cursor:
            live = self._live(cursor)
        for generation in range(live):
            prefix = self.base + generation_prefix(generation)
            with self.datastore.transaction(commit=False) as cursor:
                found = self.exists(cursor, prefix + next(reversed(TABLES))) or self.exists(
                    cursor, prefix + next(iter(TABLES))
                )
            if found:
                for statement in drop_statements(prefix):
                    with self._transaction() as cursor:
                        self.drop(cursor, statement)
            with self._transaction() as cursor:
                where = f"DELETE FROM {self.tracking_table} WHERE application_name = ?"
                self.execute(cursor, where, (self.tracking_name(application_name, generation),))

    def lock_for_switch(self, cursor: Any) -> None:
        """Take what a switch must hold before it reads the positions."""

    def tune(self, cursor: Any, bulk: bool) -> None:
        """Set this connection up for a rebuild's first pass (``bulk``) or back for ordinary batches."""

    def drop(self, cursor: Any, statement: str) -> None:
        """Drop an old generation's table."""
        self.execute(cursor, statement)

    update_lock = ""

    def reset(self, application_name: str) -> None:
        """Empty the live generation: drop its tables and its tracking position, then create empty tables."""
        generation = self.refresh()
        with self._transaction() as cursor:
            for statement in drop_statements(self.sql("{p}", generation)):
                self.execute(cursor, statement)
            where = f"DELETE FROM {self.tracking_table} WHERE application_name = ?"
            self.execute(cursor, where, (self.tracking_name(application_name, generation),))
            for statement in create_statements(self.sql("{p}", generation), self.real, generation, self.blob):
                self.execute(cursor, statement)


class SQLiteEvalsView(SQLiteTrackingRecorder, EvalsView):
    """Views in their own SQLite file, so view writes never wait on the event store's writer."""

    def __init__(self, datastore: SQLiteDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {GENERATION_TABLE} {GENERATION_COLUMNS}",  # no row: generation 0 is live
        ]

    def create_table(self) -> None:
        super().create_table()
        self.create_generation_tables(self.refresh())

    def execute(self, cursor: Any, sql: str, params: Any = (), binary: bool = False) -> None:
        cursor.execute(sql, params)

    def fetch_rows(self, cursor: Any) -> list[Row]:
        """Fetched as tuples and zipped with the columns: ``dict(sqlite3.Row)`` goes through the mapping protocol
        key by key, and cost three times as much (a page of failures reads about 400 rows)."""
        cursor = getattr(cursor, "sqlite_cursor", cursor)  # the store library's wrapper (``reading``) or its cursor
        factory = cursor.row_factory
        cursor.row_factory = None
        try:
            rows = cursor.fetchall()
        finally:
            cursor.row_factory = factory
        if not rows:
            return []
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def executemany(self, cursor: Any, sql: str, rows: list[tuple[Any, ...]]) -> None:
        cursor.executemany(sql, rows)

    def write_tracking(self, cursor: Any, tracking: Tracking) -> None:
        self._insert_tracking(cursor, tracking)

    def exists(self, cursor: Any, table: str) -> bool:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
        return cursor.fetchone() is not None

    def lock_for_switch(self, cursor: Any) -> None:
        cursor.execute(f"UPDATE {GENERATION_TABLE} SET next = next WHERE id = 1")  # the write lock, before reading

    def tune(self, cursor: Any, bulk: bool) -> None:
        """A first pass's transaction dirties far more than the default 2 MB page cache: a cache that small spills
        pages to the write-ahead log mid-transaction and writes them again when they change again."""
        cursor.execute(f"PRAGMA cache_size = {BULK_CACHE_KIB if bulk else DEFAULT_CACHE_KIB}")

    def drop(self, cursor: Any, statement: str) -> None:
        """Python's SQLite is built with secure_delete on: dropping a table would overwrite each of its pages with
        zeros (through the write-ahead log: twice the old view's size written). ``FAST`` still clears what is
        deleted on the pages that stay in use, not the freed ones (the log holds their data anyway)."""
        cursor.execute("PRAGMA secure_delete")
        secure = int(cursor.fetchone()[0])
        cursor.execute("PRAGMA secure_delete = FAST")
        try:
            cursor.execute(statement)
        finally:
            cursor.execute(f"PRAGMA secure_delete = {secure}")
