"""Projects: the namespace every resource belongs to, and how events record which one.

A ``Project`` aggregate holds a project's name; its id derives from the project id string (``Project.create_id``),
so creating the same project twice collides in the store. The ``default`` project always exists without one.

Every top-level aggregate's create event records ``project_id`` (the project of the context that created it,
``tenancy.project_for_new``); a child aggregate (a dataset version, an experiment version, a run, a run chunk, a
prompt version, a rescore, an annotation) records its parent's. Events written before projects existed have no
``project_id``: their upcaster (``owned_by_project``) puts them in ``default``.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from agnt5_evals.domain.ids import NAMESPACE
from agnt5_evals.domain.tenancy import DEFAULT_PROJECT


class Project(Aggregate):
    """A project: its id string (``default``, a slug or a UUID string) and a name."""

    @staticmethod
    def create_id(project_id: str) -> UUID:
        return project_uuid(project_id)

    @event("Created")
    def __init__(self, project_id: str, name: str) -> None:
        self.project_id = project_id
        self.name = name


def project_uuid(project_id: str) -> UUID:
    """The aggregate id of a project (deterministic: the same project id is the same aggregate)."""
    return uuid5(NAMESPACE, f"project-{project_id}")


def _in_default(state: dict[str, Any]) -> None:
    """Written before projects existed: the default project's."""
    state.setdefault("project_id", DEFAULT_PROJECT)


def owned_by_project(*event_classes: Any) -> None:
    """Give each create event class its next class version, whose upcaster puts older events in ``default``."""
    for event_class in event_classes:
        version = int(getattr(event_class, "class_version", 1))
        setattr(event_class, f"upcast_v{version}_v{version + 1}", staticmethod(_in_default))
        event_class.class_version = version + 1
