"""The read model on PostgreSQL (imported only when the store is PostgreSQL)."""

from __future__ import annotations

import re
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg.sql import SQL

from agnt5_evals.projections.handlers import INSERT_VERSION_ITEM
from agnt5_evals.projections.schema import GENERATION_COLUMNS, GENERATION_TABLE, TABLES
from agnt5_evals.projections.views import EvalsView, Row

# every column a parameter; a duplicate key ignored, or not
PLAIN_INSERT = re.compile(r"INSERT INTO (\S+) VALUES \((?:%s, )*%s\)( ON CONFLICT DO NOTHING)?")
ITEM_COLUMNS = "version_id, position, chunk_id, item_id, input, expected_output, metadata, events, split"
VERSION_ITEMS = (  # INSERT_VERSION_ITEM, from a scratch table of its rows (their last parameter is their version)
    "INSERT INTO {p}dataset_items SELECT " + ITEM_COLUMNS + ", 0 FROM " + "{scratch} s WHERE NOT EXISTS "
    "(SELECT 1 FROM {p}dataset_versions WHERE id = s.version_id) ORDER BY s.ctid "
    "ON CONFLICT (version_id, chunk_id, position) DO NOTHING"
)
SCRATCH = "agnt5_bulk_rows"  # a temporary table of this session: a batch's rows for an insert that ignores duplicates


class PostgresEvalsView(PostgresTrackingRecorder, EvalsView):
    """Views as tables named ``<view name>_[g<n>_]*`` in the event store's PostgreSQL schema."""

    paramstyle = "format"
    real = "DOUBLE PRECISION"
    blob = "BYTEA"
    hash_joins_only = "SET LOCAL enable_nestloop = off"
    share_lock = " FOR SHARE"  # a batch waits for a switch in progress, then sees the new live generation
    update_lock = " FOR UPDATE"  # a switch waits for the live generation's batch in progress, then reads its position

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.base = f'"{datastore.schema}".{self.tracking_table_name.removesuffix("tracking")}'
        self.prefix = self.base
        self.tracking_table = f'"{datastore.schema}".{self.tracking_table_name}'
        pointer = f"{self.base}{GENERATION_TABLE}"
        create = f"CREATE TABLE IF NOT EXISTS {pointer} {GENERATION_COLUMNS}"  # no row: generation 0 is live
        self.sql_create_statements.append(SQL(create))  # type: ignore[arg-type]

    def create_table(self) -> None:
        """Create the tables unless they exist: the DDL takes locks that deadlock with other processes' catch-up
        (CREATE INDEX IF NOT EXISTS still locks the table), and every command opens the view."""
        with self.datastore.transaction(commit=False) as cursor:
            found = self.exists(cursor, f"{self.base}{GENERATION_TABLE}")
        if not found:
            super().create_table()
        self.create_generation_tables(self.refresh())

    def analyze(self) -> None:
        """Gather the planner's statistics of this generation's tables: a generation just built has none, and
        without them PostgreSQL plans a run's reads as if its tables were empty (10x slower pages)."""
        with self.datastore.transaction(commit=True) as cursor:
            for name in TABLES:
                self.execute(cursor, f"ANALYZE {self.prefix}{name}")

    def analyze_tables(self, cursor: Any, generation: int, tables: tuple[str, ...]) -> None:
        """A run or a version just landed: without fresh statistics (autovacuum comes up to a minute later) the
        planner takes it for one row and filters all of it to find a few positions."""
        for name in tables:
            self.execute(cursor, self.sql(f"ANALYZE {{p}}{name}", generation))

    def execute(self, cursor: Any, sql: str, params: Any = (), binary: bool = False) -> None:
        cursor.execute(sql.replace("?", "%s").encode(), params, binary=binary)

    def fetch_rows(self, cursor: Any) -> list[Row]:
        """The datastore's connections make a new dict per row (``dict_row``): no copy."""
        rows: list[Row] = cursor.fetchall()
        return rows

    def executemany(self, cursor: Any, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """A rebuild's first pass copies the rows of a plain insert (a run's items and scores): COPY takes them in
        one stream instead of a statement per row. An insert that ignores duplicate keys (an upload's staged items)
        goes through a scratch table: ``INSERT ... SELECT`` in COPY order skips a key already inserted, by an earlier
        statement or an earlier row of this one, as the rows one by one would."""
        plain = PLAIN_INSERT.fullmatch(sql) if self.bulk else None
        if plain is None:
            if self.bulk and sql == self.sql(INSERT_VERSION_ITEM) and all(row[0] == row[-1] for row in rows):
                self._version_items(cursor, rows)
            else:
                cursor.executemany(sql.encode(), rows)
            return
        table, ignoring = plain.group(1), plain.group(2)
        if ignoring:  # COPY into a scratch table, then one insert of its rows in their order (the first of a key wins)
            cursor.execute(f"CREATE TEMPORARY TABLE {SCRATCH} (LIKE {table}) ON COMMIT DROP".encode())
        with cursor.copy(f"COPY {SCRATCH if ignoring else table} FROM STDIN".encode()) as copy:
            for row in rows:
                copy.write_row(row)
        if ignoring:
            cursor.execute(f"INSERT INTO {table} SELECT * FROM {SCRATCH} ORDER BY ctid{ignoring}".encode())
            cursor.execute(f"DROP TABLE {SCRATCH}".encode())

    def _version_items(self, cursor: Any, rows: list[tuple[Any, ...]]) -> None:
        """A published version's items, as ``INSERT_VERSION_ITEM`` row by row would insert them: COPYed into a
        scratch table, then one insert of those whose version is not recorded yet, in their order."""
        table = self.sql("{p}dataset_items")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {SCRATCH} ON COMMIT DROP AS SELECT * FROM {table} WITH NO DATA".encode()
        )
        with cursor.copy(f"COPY {SCRATCH} ({ITEM_COLUMNS}) FROM STDIN".encode()) as copy:
            for row in rows:
                copy.write_row(row[:-1])
        cursor.execute(self.sql(VERSION_ITEMS).replace("{scratch}", SCRATCH).encode())
        cursor.execute(f"DROP TABLE {SCRATCH}".encode())

    def write_tracking(self, cursor: Any, tracking: Tracking) -> None:
        self._insert_tracking(cursor, tracking)

    def exists(self, cursor: Any, table: str) -> bool:
        cursor.execute(b"SELECT to_regclass(%s) AS found", (table,))
        row = cursor.fetchone()
        return row is not None and row["found"] is not None
