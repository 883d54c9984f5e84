"""The event log as it is stored, in order: what `agnt5 audit events` and `GET /audit/events` print.

An audit reads the log itself, never the read model: position (the notification id), time, topic, aggregate id and
version, and the payload exactly as recorded (before any upcasting). Filters follow the links the events carry,
in log order: a run's own events, then those of every aggregate whose events name it (its chunks, its rescores
and their chunks, its annotations), and so on for an experiment (its versions and runs) or a dataset (its versions
and their chunks).

In a project's context (``tenancy.current_project``) an audit shows only that project's events: those of every
aggregate whose create event records the project (or, written before projects, whose parent is the project's; a
top-level one without a project is ``default``'s). Code bundles are content-addressed and may be shared by several
projects' deployments: their events are left out of a project's audit (``deployments show`` lists a deployment's
files). The system scope (no project) shows the whole log.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.ids import dataset_version_id
from agnt5_evals.domain.model import Dataset, Experiment
from agnt5_evals.domain.runs import Run
from agnt5_evals.domain.tenancy import DEFAULT_PROJECT, current_project
from agnt5_evals.projections.catchup import paced

BATCH = 1000
LINKS = {  # payload fields that tie an event to an aggregate already selected
    "run": ("run_id", "rescore_id"),
    "experiment": ("experiment_id", "run_id", "rescore_id"),
    "dataset": ("dataset_id", "dataset_version_id"),
}
DATASET_TOPICS = ("Dataset.", "DatasetVersion.", "DatasetVersionChunk.")  # a dataset's own aggregates, not its runs
TOP_LEVEL = ("Dataset.", "Deployment.", "Experiment.", "Scorer.", "Prompt.")  # a create without a project: default's
SHARED = ("Bundle.", "BundleChunk.")  # content-addressed, shared by projects: not in a project's audit
PARENTS = ("run_id", "rescore_id", "experiment_id", "dataset_id", "dataset_version_id", "prompt_id")
ROOTS: dict[str, type[Aggregate]] = {"run": Run, "experiment": Experiment, "dataset": Dataset}


@dataclass(frozen=True)
class AuditFilter:
    """Which part of the log: everything after ``after``, or one run's, experiment's or dataset's events."""

    run_id: UUID | None = None
    experiment_id: UUID | None = None
    dataset_id: UUID | None = None
    after: int = 0
    limit: int | None = None

    def __post_init__(self) -> None:
        given = [name for name in ("run_id", "experiment_id", "dataset_id") if getattr(self, name) is not None]
        if len(given) > 1:
            raise Invalid("give at most one of run, experiment and dataset", field=", ".join(given))
        if self.after < 0:
            raise Invalid(f"must be a log position >= 0, got {self.after}", field="after")
        if self.limit is not None and self.limit < 1:
            raise Invalid(f"must be at least 1, got {self.limit}", field="limit")

    @property
    def root(self) -> tuple[str, UUID] | None:
        for kind in ("run", "experiment", "dataset"):
            value = getattr(self, f"{kind}_id")
            if value is not None:
                return kind, value
        return None


def events(svc: Services, spec: AuditFilter) -> Iterator[dict[str, Any]]:
    """The selected events in log order, one dict each (streamed in batches: a large log is never held whole)."""
    root = spec.root
    if root is not None:  # another project's run, experiment or dataset is not found
        svc.app.get(ROOTS[root[0]], root[1], root[0], field=f"{root[0]}_id")
    project = ProjectEvents(current_project())
    selected: set[str] = {str(root[1])} if root else set()
    if root is not None and root[0] == "dataset":  # a version's chunks are saved before the version itself
        selected.add(str(dataset_version_id(root[1], 1)))
    links = LINKS[root[0]] if root else ()
    decode = svc.app.mapper.transcoder.decode
    # A project's audit reads the log from its start: which aggregates are the project's is told by their first events
    emitted = 0
    for notification in paced(svc.app, 0 if project.project is not None else spec.after, BATCH):
        payload = decode(notification.state)
        originator = str(notification.originator_id)
        if not project.holds(notification.topic, originator, notification.originator_version, payload):
            continue
        if notification.id <= spec.after:
            continue
        if root is not None:
            if root[0] == "dataset" and not _is_dataset_topic(notification.topic):
                continue
            linked = any(str(payload.get(field)) in selected for field in links if field in payload)
            if originator not in selected and not linked:
                continue
            selected.add(originator)
            if root[0] == "dataset" and "number" in payload and originator == str(root[1]):
                selected.add(str(dataset_version_id(root[1], int(payload["number"]) + 1)))  # the next one
        yield {
            "position": notification.id,
            "timestamp": payload.pop("timestamp", None),
            "topic": notification.topic,
            "originator_id": originator,
            "originator_version": notification.originator_version,
            "payload": payload,
        }
        emitted += 1
        if spec.limit is not None and emitted >= spec.limit:
            return


def _is_dataset_topic(topic: str) -> bool:
    return topic.partition(":")[2].startswith(DATASET_TOPICS)


class ProjectEvents:
    """Which events are one project's, followed in log order (``None``: the system scope, every event)."""

    def __init__(self, project: str | None) -> None:
        self.project = project
        self.mine: set[str] = set()  # the project's aggregates seen so far

    def holds(self, topic: str, originator: str, version: int, payload: dict[str, Any]) -> bool:
        if self.project is None:
            return True
        name = topic.partition(":")[2]
        if name.startswith(SHARED):
            return False
        if originator not in self.mine:
            if version != 1:
                return False
            owner = payload.get("project_id")
            if owner is None and name.startswith(TOP_LEVEL):
                owner = DEFAULT_PROJECT
            if owner is None:  # a child written before projects (or a chunk): its parent's
                linked = any(str(payload.get(field)) in self.mine for field in PARENTS if field in payload)
                owner = self.project if linked else None
            if owner != self.project:
                return False
            self.mine.add(originator)
        if name.startswith("Dataset.") and (name == "Dataset.Created" or "number" in payload):
            next_number = int(payload.get("number", 0)) + 1  # its next version's chunks come before the version
            self.mine.add(str(dataset_version_id(UUID(originator), next_number)))
        return True
