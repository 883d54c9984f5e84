"""The read-model store: view tables plus a tracking row, written in one transaction per batch.

The same SQL serves both stores: templates use ``{p}`` for the table prefix and ``?`` placeholders.
"""

from __future__ import annotations

from abc import abstractmethod
from functools import lru_cache
from typing import Any

from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder

from agnt5_evals.projections.handlers import Op, batched
from agnt5_evals.projections.schema import create_statements, drop_statements

Row = dict[str, Any]


class EvalsView(TrackingRecorder):
    """The read model: apply batches of row operations with their tracking position; answer queries."""

    prefix = ""

    @abstractmethod
    def sql(self, template: str) -> str: ...

    @abstractmethod
    def apply(self, ops: list[Op], tracking: Tracking) -> None:
        """Write the operations and the tracking position atomically (a stale position raises)."""

    @abstractmethod
    def query(self, template: str, params: tuple[Any, ...] = ()) -> list[Row]: ...

    @abstractmethod
    def reset(self, application_name: str) -> None:
        """Drop every view table and the tracking position, then create empty tables."""


@lru_cache(maxsize=512)
def format_sql(template: str, prefix: str, paramstyle: str) -> str:
    sql = template.replace("{p}", prefix)
    return sql.replace("?", "%s") if paramstyle == "format" else sql


class SQLiteEvalsView(SQLiteTrackingRecorder, EvalsView):
    """Views in their own SQLite file, so view writes never wait on the event store's writer."""

    def __init__(self, datastore: SQLiteDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *create_statements("", "REAL")]

    def sql(self, template: str) -> str:
        return format_sql(template, "", "qmark")

    def apply(self, ops: list[Op], tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            self._insert_tracking(cursor, tracking)
            for template, rows in batched(ops):
                cursor.executemany(self.sql(template), rows)

    def query(self, template: str, params: tuple[Any, ...] = ()) -> list[Row]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self.sql(template), params)
            return [dict(row) for row in cursor.fetchall()]

    def reset(self, application_name: str) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            for statement in drop_statements(""):
                cursor.execute(statement)
            cursor.execute("DELETE FROM tracking WHERE application_name = ?", (application_name,))
            for statement in create_statements("", "REAL"):
                cursor.execute(statement)
