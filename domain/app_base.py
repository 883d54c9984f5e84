"""The base of the Application: reading aggregates, saving atomically, and what a command returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording, Transcoder

from agnt5_evals.domain import model, tenancy
from agnt5_evals.domain.errors import Conflict, NotFound
from agnt5_evals.domain.ids import parse_uuid
from agnt5_evals.domain.projects import Project, project_uuid
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
        """An aggregate of ``cls``, if the current context may see it (``tenancy.visible``): one of another
        project is not found, with the same message as a missing one (its existence is not disclosed)."""
        try:
            aggregate: Aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"{what} {aggregate_id} not found", field=field) from None
        if not isinstance(aggregate, cls) or not self.visible(aggregate):
            raise NotFound(f"{what} {aggregate_id} not found", field=field)
        return aggregate

    def _get_for(self, field: str, cls: type[A], aggregate_id: UUID, what: str) -> A:
        try:
            return self.get(cls, aggregate_id, what)
        except NotFound as exc:
            raise NotFound(exc.message, field=field) from None

    def check_scorers(self, scorers: list[dict[str, Any]]) -> None:
        """Custom scorers name a project scorer and its deployment: both must be visible (of this project)."""
        for scorer in scorers:
            if not isinstance(scorer, dict) or scorer.get("type") != "custom":
                continue
            if scorer.get("scorer_id"):
                self._get_for("scorers", model.Scorer, parse_uuid(str(scorer["scorer_id"]), "scorers"), "scorer")
            if scorer.get("deployment_id"):
                deployment_id = parse_uuid(str(scorer["deployment_id"]), "scorers")
                self._get_for("scorers", model.Deployment, deployment_id, "deployment")

    @staticmethod
    def visible(aggregate: Aggregate) -> bool:
        """Whether the current context may see an aggregate: one of its project (or any, in the system scope).
        Aggregates without a project are reached only through one that has it (chunks, the content-addressed
        bundles of deployments); projects themselves are a namespace, not a resource of one."""
        project = getattr(aggregate, "project_id", None)
        return project is None or isinstance(aggregate, Project) or tenancy.visible(project)

    def project_for_new(self) -> str:
        """The project a resource created now belongs to (``tenancy.project_for_new``), which must exist."""
        project = tenancy.project_for_new()
        if project != tenancy.DEFAULT_PROJECT and not self.recorder.select_events(project_uuid(project), limit=1):
            raise NotFound(f"project {project} not found", field="project_id")
        return project

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
