"""Aggregates and their events.

Each command method decides (raising ``domain.errors``); each ``@event`` method only assigns state,
because it runs again on every replay. Module and class names are event topics: do not rename.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from agnt5_evals.domain import ids
from agnt5_evals.domain.archiving import check_archiving
from agnt5_evals.domain.errors import Conflict, Invalid, NotFound
from agnt5_evals.domain.projects import owned_by_project
from agnt5_evals.domain.tenancy import DEFAULT_PROJECT

JSON = Any


class Dataset(Aggregate):
    """A dataset: one mutable draft and numbered immutable versions."""

    project_id = DEFAULT_PROJECT  # class default: the state of aggregates from before projects
    archived = False  # class default: datasets before archiving existed

    @event("Created")
    def __init__(
        self, name: str, description: str, metadata: dict[str, JSON], project_id: str = DEFAULT_PROJECT
    ) -> None:
        self.project_id = project_id
        self.name = name
        self.description = description
        self.metadata = metadata
        self.draft: dict[str, dict[str, JSON]] = {}  # items added since the draft was last restored
        self.draft_base: UUID | None = None  # the version the draft was restored from: its items come first
        # Draft order: the base's items, then the items added and uploads committed, by edit (a counter of draft
        # events); ``draft_removed``: referenced items (the base's, an upload's) removed, by id -> the edit.
        self.draft_edits = 0
        self.draft_added_at: dict[str, int] = {}  # the edit that added each item of ``draft``
        self.draft_uploads: list[tuple[int, list[str]]] = []  # (edit, upload chunk ids) committed since the restore
        self.draft_removed: dict[str, int] = {}
        self.draft_size = 0
        self.draft_dirty = False
        self.version_numbers: list[int] = []

    @property
    def draft_base_removed(self) -> list[str]:
        """Ids of referenced items (the restored base's, a committed upload's) removed since the restore."""
        return list(self.draft_removed)

    @property
    def next_version_number(self) -> int:
        return len(self.version_numbers) + 1

    def add_items(self, items: list[dict[str, JSON]], base_ids: set[str] | None = None) -> None:
        """Add items (each with its own ``id``) to the draft; ``base_ids``: the draft's referenced ids (the restored
        base's remaining items and the committed uploads')."""
        if not items:
            raise Invalid("nothing to add", field="items")
        ids = [item["id"] for item in items]
        if len(set(ids)) != len(ids):
            raise Invalid("an item id appears twice in the input", field="items")
        clash = [item["id"] for item in items if item["id"] in self.draft or item["id"] in (base_ids or ())]
        if clash:
            raise Conflict(f"item id {clash[0]} is already in the draft")
        self._items_added(items=items)

    @event("ItemsAdded")
    def _items_added(self, items: list[dict[str, JSON]]) -> None:
        self.draft_edits += 1
        for item in items:
            self.draft[item["id"]] = item
            self.draft_added_at[item["id"]] = self.draft_edits
        self.draft_size += len(items)
        self.draft_dirty = True

    def commit_upload(self, upload_id: UUID, chunk_ids: list[str], n_items: int) -> None:
        """Add a staged upload's items (its ``UploadChunk``s, checked by the caller) to the draft in one event."""
        if not chunk_ids or n_items <= 0:
            raise Invalid("nothing to add", field="items")
        self._upload_committed(upload_id=upload_id, chunk_ids=chunk_ids, n_items=n_items)

    @event("UploadCommitted")
    def _upload_committed(self, upload_id: UUID, chunk_ids: list[str], n_items: int) -> None:
        self.draft_edits += 1
        self.draft_uploads.append((self.draft_edits, list(chunk_ids)))
        self.draft_size += n_items
        self.draft_dirty = True

    def restore_draft(self, version_id: UUID, number: int, n_items: int) -> None:
        """Make the draft exactly a published version's items (by reference: the version holds them)."""
        self._draft_restored(version_id=version_id, number=number, n_items=n_items)

    @event("DraftRestored")
    def _draft_restored(self, version_id: UUID, number: int, n_items: int) -> None:
        self.draft_edits += 1
        self.draft = {}
        self.draft_added_at = {}
        self.draft_uploads = []
        self.draft_base = version_id
        self.draft_removed = {}
        self.draft_size = n_items
        self.draft_dirty = True

    def remove_items(self, item_ids: list[str], draft_ids: set[str]) -> None:
        """Remove items from the draft by id; ``draft_ids``: every id the draft holds now."""
        if not item_ids:
            raise Invalid("nothing to remove", field="remove_item_ids")
        missing = [item_id for item_id in item_ids if item_id not in draft_ids]
        if missing:
            raise NotFound(f"item {missing[0]} is not in the draft of dataset {self.id}", field="remove_item_ids")
        if len(set(item_ids)) != len(item_ids):
            raise Invalid("an item id is given twice", field="remove_item_ids")
        self._items_removed(item_ids=item_ids)

    @event("ItemsRemoved")
    def _items_removed(self, item_ids: list[str]) -> None:
        self.draft_edits += 1
        for item_id in item_ids:
            if self.draft.pop(item_id, None) is None:
                self.draft_removed[item_id] = self.draft_edits
            else:
                del self.draft_added_at[item_id]
        self.draft_size -= len(item_ids)
        self.draft_dirty = True

    def check_publishable(self) -> None:
        if not self.draft_size:
            raise Conflict(f"dataset {self.id}: the draft is empty; add items before publishing")
        if not self.draft_dirty:
            raise Conflict(f"dataset {self.id}: the draft has no unpublished changes")

    @event("VersionPublished")
    def record_version(self, version_id: UUID, number: int, n_items: int, description: str) -> None:
        self.version_numbers.append(number)
        self.draft_dirty = False

    def set_archived(self, archived: bool) -> None:
        """Archive (hidden from lists; versions, experiments and runs stay) or unarchive."""
        check_archiving("dataset", self.id, self.name, self.archived, archived)
        self._archived() if archived else self._unarchived()

    @event("Archived")
    def _archived(self) -> None:
        self.archived = True

    @event("Unarchived")
    def _unarchived(self) -> None:
        self.archived = False


class DatasetVersionChunk(Aggregate):
    """Up to a few hundred items of one dataset version (keeps every save small)."""

    @event("Created")
    def __init__(self, dataset_version_id: UUID, index: int, start: int, items: list[dict[str, JSON]]) -> None:
        self.dataset_version_id = dataset_version_id
        self.index = index
        self.start = start
        self.items = items


class UploadChunk(Aggregate):
    """Up to a few hundred items of one upload, staged: invisible to the draft until ``Dataset.UploadCommitted``
    references it (an upload killed or beaten by another writer leaves chunks that nothing reads)."""

    @staticmethod
    def create_id(upload_id: UUID, index: int) -> UUID:
        return ids.upload_chunk_id(upload_id, index)

    @event("Created")
    def __init__(self, dataset_id: UUID, upload_id: UUID, index: int, start: int, items: list[dict[str, JSON]]) -> None:
        self.dataset_id = dataset_id
        self.upload_id = upload_id
        self.index = index
        self.start = start
        self.items = items


class DatasetVersion(Aggregate):
    """An immutable, numbered snapshot of a dataset's draft, with the digest of each chunk's items and the content
    digest of all of them (``domain.digests.items_digest``: the same items give the same digest however chunked)."""

    content_digest: str | None = None  # versions published before content digests have none
    chunk_digests: tuple[str, ...] = ()
    project_id = DEFAULT_PROJECT

    @staticmethod
    def create_id(dataset_id: UUID, number: int) -> UUID:
        return ids.dataset_version_id(dataset_id, number)

    @event("Created")
    def __init__(
        self,
        dataset_id: UUID,
        number: int,
        description: str,
        metadata: dict[str, JSON],
        n_items: int,
        chunk_ids: list[str],
        content_digest: str | None = None,
        chunk_digests: list[str] | None = None,
        project_id: str = DEFAULT_PROJECT,
    ) -> None:
        self.project_id = project_id
        self.dataset_id = dataset_id
        self.number = number
        self.description = description
        self.metadata = metadata
        self.n_items = n_items
        self.chunk_ids = chunk_ids
        self.content_digest = content_digest
        self.chunk_digests = tuple(chunk_digests or ())


def _version_created_v1_v2(state: dict[str, JSON]) -> None:
    """Versions published before content digests: none recorded (``audit verify`` says so)."""
    state.setdefault("content_digest", None)
    state.setdefault("chunk_digests", None)


DatasetVersion.Created.class_version = 2  # type: ignore[attr-defined]
DatasetVersion.Created.upcast_v1_v2 = staticmethod(_version_created_v1_v2)  # type: ignore[attr-defined]


class BundleChunk(Aggregate):
    """Part of a code bundle's compressed content (base64, at most 512 KiB), staged: nothing reads it until a
    ``Bundle`` lists it. A create killed while staging leaves chunks that the next create of the same code reuses
    (a chunk's id names its digest, index and content)."""

    @staticmethod
    def create_id(digest: str, index: int, data: str) -> UUID:
        return ids.bundle_chunk_id(digest, index, data)

    @event("Created")
    def __init__(self, digest: str, index: int, data: str) -> None:
        self.digest = digest
        self.index = index
        self.data = data


class Bundle(Aggregate):
    """An immutable, content-addressed snapshot of a deployment's code: its id derives from its digest (the same
    tree is stored once), its content is in ``BundleChunk``s (``chunk_ids``, in order)."""

    @staticmethod
    def create_id(digest: str) -> UUID:
        return ids.bundle_id(digest)

    @event("Created")
    def __init__(self, digest: str, size: int, n_files: int, encoding: str, chunk_ids: list[str]) -> None:
        self.digest = digest
        self.size = size
        self.n_files = n_files
        self.encoding = encoding
        self.chunk_ids = chunk_ids


class Deployment(Aggregate):
    """A build serving components: a Python module (a snapshot of its code in a ``Bundle``, or ``editable``: the
    live files) or an HTTP worker (``build``: the version it reported)."""

    archived = False  # class default: deployments before archiving existed
    project_id = DEFAULT_PROJECT

    @event("Created")
    def __init__(
        self,
        name: str,
        kind: str,
        module: str,
        path: str,
        url: str,
        components: list[dict[str, str]],
        bundle_digest: str = "",
        bundle_size: int = 0,
        bundle_files: int = 0,
        editable: bool = True,
        include: list[str] | None = None,
        exclude: list[str] | None = None,
        build: str = "",
        project_id: str = DEFAULT_PROJECT,
    ) -> None:
        self.project_id = project_id
        self.name = name
        self.kind = kind
        self.module = module
        self.path = path
        self.url = url
        self.components = components
        self.bundle_digest = bundle_digest
        self.bundle_size = bundle_size
        self.bundle_files = bundle_files
        self.editable = editable
        self.include = include or []
        self.exclude = exclude or []
        self.build = build

    def check_runnable(self) -> None:
        """An archived deployment starts no new runs (its old runs keep showing it)."""
        if self.archived:
            raise Conflict(f"deployment {self.id} ({self.name}) is archived: it cannot start new runs")

    def archive(self) -> None:
        if self.archived:
            raise Conflict(f"deployment {self.id} ({self.name}) is already archived")
        self._archived()

    @event("Archived")
    def _archived(self) -> None:
        self.archived = True

    def check_component(self, name: str, component_type: str) -> None:
        for component in self.components:
            if component["name"] == name:
                if component["type"] != component_type:
                    raise Invalid(
                        f"component {name!r} of deployment {self.id} is a {component['type']}, not a {component_type}",
                        field="target.component_type",
                    )
                return
        known = ", ".join(c["name"] for c in self.components) or "none"
        raise Invalid(
            f"deployment {self.id} has no component {name!r} (it has: {known})", field="target.component_name"
        )


def _deployment_created_v1_v2(state: dict[str, JSON]) -> None:
    """Deployments from before snapshots: a Python one runs the live files at its path (editable), no bundle."""
    state.setdefault("bundle_digest", "")
    state.setdefault("bundle_size", 0)
    state.setdefault("bundle_files", 0)
    state.setdefault("editable", state.get("kind") == "python")
    state.setdefault("include", [])
    state.setdefault("exclude", [])
    state.setdefault("build", "")


Deployment.Created.class_version = 2  # type: ignore[attr-defined]
Deployment.Created.upcast_v1_v2 = staticmethod(_deployment_created_v1_v2)  # type: ignore[attr-defined]


class Experiment(Aggregate):
    """An editable definition (target, scorers, config) bound to a dataset version."""

    project_id = DEFAULT_PROJECT
    archived = False  # class default: experiments before archiving existed

    @event("Created")
    def __init__(
        self, name: str, description: str, definition: dict[str, JSON], project_id: str = DEFAULT_PROJECT
    ) -> None:
        self.project_id = project_id
        self.name = name
        self.description = description
        self.definition = definition
        self.revision = 1
        self.versions = 0
        self.latest_version_id: UUID | None = None
        self.latest_version_revision = 0

    def update_definition(self, definition: dict[str, JSON]) -> None:
        if definition == self.definition:
            return
        self._definition_updated(definition=definition)

    @event("DefinitionUpdated")
    def _definition_updated(self, definition: dict[str, JSON]) -> None:
        self.definition = definition
        self.revision += 1

    @property
    def needs_new_version(self) -> bool:
        return self.latest_version_id is None or self.latest_version_revision != self.revision

    @event("VersionSnapshotted")
    def record_version(self, version_id: UUID, number: int, revision: int) -> None:
        self.versions = number
        self.latest_version_id = version_id
        self.latest_version_revision = revision

    def check_runnable(self) -> None:
        """An archived experiment starts no new runs (its versions and runs stay readable)."""
        if self.archived:
            raise Conflict(f"experiment {self.id} ({self.name}) is archived: it starts no new runs; unarchive it "
                           f"first (agnt5 experiments unarchive {self.id})")  # fmt: skip

    def set_archived(self, archived: bool) -> None:
        """Archive (hidden from lists, starts no new runs; versions and runs stay) or unarchive."""
        check_archiving("experiment", self.id, self.name, self.archived, archived)
        self._archived() if archived else self._unarchived()

    @event("Archived")
    def _archived(self) -> None:
        self.archived = True

    @event("Unarchived")
    def _unarchived(self) -> None:
        self.archived = False


class ExperimentVersion(Aggregate):
    """An immutable snapshot of an experiment's definition, taken when a run starts."""

    project_id = DEFAULT_PROJECT

    @staticmethod
    def create_id(experiment_id: UUID, number: int) -> UUID:
        return ids.experiment_version_id(experiment_id, number)

    @event("Created")
    def __init__(
        self, experiment_id: UUID, number: int, definition: dict[str, JSON], project_id: str = DEFAULT_PROJECT
    ) -> None:
        self.project_id = project_id
        self.experiment_id = experiment_id
        self.number = number
        self.definition = definition


class Scorer(Aggregate):
    """A project scorer: a deployed custom scorer component, attached to experiments by id."""

    project_id = DEFAULT_PROJECT

    @event("Created")
    def __init__(
        self, name: str, description: str, deployment_id: UUID, component_name: str, project_id: str = DEFAULT_PROJECT
    ) -> None:
        self.project_id = project_id
        self.name = name
        self.description = description
        self.deployment_id = deployment_id
        self.component_name = component_name

    def spec(self) -> dict[str, JSON]:
        """The scorer as an experiment definition holds it (a snapshot: later runs keep using it)."""
        return {
            "type": "custom",
            "scorer_id": str(self.id),
            "name": self.name,
            "deployment_id": str(self.deployment_id),
            "component_name": self.component_name,
            "config": {},
        }


owned_by_project(
    Dataset.Created,
    DatasetVersion.Created,
    Deployment.Created,
    Experiment.Created,
    ExperimentVersion.Created,
    Scorer.Created,
)
