"""The read model on PostgreSQL (imported only when the store is PostgreSQL)."""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg.sql import SQL

from agnt5_evals.projections.handlers import Op, batched
from agnt5_evals.projections.schema import TABLES, create_statements, drop_statements
from agnt5_evals.projections.views import EvalsView, Row, format_sql


class PostgresEvalsView(PostgresTrackingRecorder, EvalsView):
    """Views as tables named ``<view name>_*`` in the event store's PostgreSQL schema."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.prefix = f'"{datastore.schema}".{self.tracking_table_name.removesuffix("tracking")}'
        for statement in create_statements(self.prefix, "DOUBLE PRECISION"):
            self.sql_create_statements.append(SQL(statement))  # type: ignore[arg-type]

    def create_table(self) -> None:
        """Create the tables unless they exist: the DDL takes locks that deadlock with other processes' catch-up
        (CREATE INDEX IF NOT EXISTS still locks the table), and every command opens the view."""
        last = next(reversed(TABLES))  # created in the same transaction as every other table of this view
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(b"SELECT to_regclass(%s) AS found", (f"{self.prefix}{last}",))
            row = cursor.fetchone()
        if row is None or row["found"] is None:
            super().create_table()

    def sql(self, template: str) -> str:
        return format_sql(template, self.prefix, "format")

    def apply(self, ops: list[Op], tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            self._insert_tracking(cursor, tracking)
            for template, rows in batched(ops):
                cursor.executemany(self.sql(template).encode(), rows)

    def query(self, template: str, params: tuple[Any, ...] = ()) -> list[Row]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self.sql(template).encode(), params)
            return [dict(row) for row in cursor.fetchall()]

    def reset(self, application_name: str) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            for statement in drop_statements(self.prefix):
                cursor.execute(statement.encode())
            tracking_table = f'"{self.datastore.schema}".{self.tracking_table_name}'
            cursor.execute(f"DELETE FROM {tracking_table} WHERE application_name = %s".encode(), (application_name,))
            for statement in create_statements(self.prefix, "DOUBLE PRECISION"):
                cursor.execute(statement.encode())
