"""The base of the Application: reading aggregates, saving atomically, and what a command returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording, Transcoder

from agnt5_evals.domain.errors import Conflict, NotFound
from agnt5_evals.domain.runs import Run
from agnt5_evals.domain.transcoding import OrjsonTranscoder

A = TypeVar("A", bound=Aggregate)


@dataclass(frozen=True)
class Written:
    """What a command wrote: the id it concerns and the log position of its last event."""

    id: UUID
    position: int
    number: int = 0


class BaseApplication(Application[UUID]):
    """One event-sourced application (one log) for every aggregate of the service."""

    name = "agnt5"
    snapshotting_intervals = {Run: 100}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.written_listeners: list[Callable[[list[Recording[UUID]]], None]] = []

    def construct_transcoder(self) -> Transcoder:
        return OrjsonTranscoder()

    # -- reading aggregates --------------------------------------------------------------------------

    def get(self, cls: type[A], aggregate_id: UUID, what: str, field: str | None = None) -> A:
        try:
            aggregate: Aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"{what} {aggregate_id} not found", field=field) from None
        if not isinstance(aggregate, cls):
            raise NotFound(f"{what} {aggregate_id} not found", field=field)
        return aggregate

    def _save(self, *aggregates: Aggregate, notify: bool = True) -> int:
        """Save atomically; return the log position of the last event. ``notify`` False: a command that saves
        several times tells the listeners only after its last save."""
        try:
            recordings = self.save(*aggregates)
        except IntegrityError:
            raise Conflict("another writer changed this entity at the same time; try again") from None
        position = recordings[-1].notification.id if recordings else 0
        if notify:
            for listener in self.written_listeners:  # e.g. the writing process brings its read model up to date
                listener(recordings)
        return position
