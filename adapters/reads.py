"""The read model alone, for read-only commands (``runs show``, ``reports ci``): no application, no aggregates.

Importing the write side (186 ``@event`` dataclasses and the eventsourcing Application) and opening it cost a
read-only command more than its query; reads never write (``docs/architecture.md``), so they need neither. The
view is opened without its DDL (on PostgreSQL: one connection, no table checks). A store whose tables are missing
(new, or from before the view existed) raises :class:`NotOpened`: the caller then takes the full path through
``bootstrap.Services``, which creates them, as every command did before.
"""

from __future__ import annotations

from typing import Any, Protocol

from eventsourcing.persistence import InfrastructureFactory, PersistenceError
from eventsourcing.utils import Environment

from agnt5_evals.adapters.settings import Settings, dropped, why_unavailable
from agnt5_evals.domain.errors import Unavailable
from agnt5_evals.projections.schema import VIEW_NAME
from agnt5_evals.projections.views import EvalsView, SQLiteEvalsView

APPLICATION = "EvalsApplication"  # the writer's name: its events table and the view's tracking row are named after it


class NotOpened(Exception):
    """The store's tables are not all there: the read path cannot answer, ``bootstrap.Services`` can."""


class Reader(Protocol):
    """What a read use case needs: the read model, and where the store is (a per-process cache's key);
    ``ReadServices`` and ``bootstrap.Services`` both have them."""

    @property
    def view(self) -> EvalsView: ...

    @property
    def settings(self) -> Settings: ...


class ReadServices:
    """The read model (``view``) and the log's head: what a read-only command needs, and all it opens."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.closed = False
        try:
            env = settings.view_env()
            env["CREATE_TABLE"] = "n"  # reads create nothing; missing tables surface in ``lag`` as NotOpened
            if settings.database_url:
                env["POSTGRES_POOL_SIZE"] = "1"  # one connection opened, not the writers' two
            factory: Any = InfrastructureFactory.construct(Environment(VIEW_NAME, env))
            view_class: type[EvalsView] = SQLiteEvalsView
            if settings.database_url:
                from agnt5_evals.projections.views_pg import PostgresEvalsView  # psycopg only for PostgreSQL

                view_class = PostgresEvalsView
            self.view: EvalsView = factory.tracking_recorder(view_class)
        except (PersistenceError, OSError) as exc:
            if dropped(exc) and settings.database_url:  # the server is away: said as ``Services`` says it
                raise Unavailable(why_unavailable(settings, exc)) from None
            raise NotOpened(str(exc)) from None  # anything else: the full path opens it, or says why not

    def head(self) -> int:
        """The log's last notification id (0 when empty)."""
        if self.settings.database_url:  # the events table is in the view's schema: ask on the view's connection
            table = f'"{self.settings.pg_schema}".{APPLICATION.lower()}_events'
            with self.view.datastore.transaction(commit=False) as cursor:
                cursor.execute(f"SELECT max(notification_id) AS head FROM {table}".encode())
                row = cursor.fetchone()
            return int(row["head"] or 0) if row is not None else 0
        env = self.settings.persistence_env()
        env["CREATE_TABLE"] = "n"
        factory: Any = InfrastructureFactory.construct(Environment(APPLICATION, env))
        recorder = factory.application_recorder()
        try:
            return int(recorder.max_notification_id() or 0)
        finally:
            recorder.datastore.close()

    def lag(self) -> tuple[int, int]:
        """The log's head and the read model's position, as ``Services.lag``; NotOpened when a table is missing.
        A lost connection is the store being unavailable, said as ``Services`` says it."""
        try:
            head = self.head()
            return head, self.view.max_tracking_id(self.view.tracking_name(APPLICATION, self.view.refresh())) or 0
        except (PersistenceError, OSError) as exc:
            if dropped(exc) and self.settings.database_url:
                raise Unavailable(why_unavailable(self.settings, exc)) from None
            raise NotOpened(str(exc)) from None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            datastore = getattr(self.view, "datastore", None)
            if datastore is not None:
                datastore.close()

    def __enter__(self) -> ReadServices:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
