"""The catalogue aggregates without a store: every command, every invariant, and replay giving the same state."""

from __future__ import annotations

from uuid import uuid4

import pytest

from agnt5_evals.domain import ids
from agnt5_evals.domain.errors import Conflict, Invalid, NotFound
from agnt5_evals.domain.model import (
    Dataset,
    DatasetVersion,
    DatasetVersionChunk,
    Deployment,
    Experiment,
    ExperimentVersion,
    Scorer,
)
from tests.support import commands, replayed


def item(item_id: str) -> dict:
    return {"id": item_id, "input": {"q": item_id}}


def draft(dataset: Dataset) -> tuple:
    return (dataset.draft, dataset.draft_base, dataset.draft_base_removed, dataset.draft_size, dataset.draft_dirty,
            dataset.version_numbers, dataset.version)  # fmt: skip


def test_a_dataset_starts_with_an_empty_clean_draft_and_no_versions():
    dataset = Dataset(name="d", description="", metadata={"team": "a"})
    names, copy = replayed(dataset)
    assert names == ["Dataset.Created"]
    assert (dataset.draft_size, dataset.draft_dirty, dataset.next_version_number) == (0, False, 1)
    assert draft(copy) == draft(dataset) and copy.metadata == {"team": "a"}


def test_items_added_removed_and_published_replay_the_same():
    dataset = Dataset(name="d", description="", metadata={})
    dataset.add_items([item("a"), item("b"), item("c")])
    dataset.remove_items(["b"], {"a", "b", "c"})
    dataset.check_publishable()
    version_id = ids.dataset_version_id(dataset.id, 1)
    dataset.record_version(version_id=version_id, number=1, n_items=2, description="first")
    names, copy = replayed(dataset)
    assert names == ["Dataset.Created", "Dataset.ItemsAdded", "Dataset.ItemsRemoved", "Dataset.VersionPublished"]
    assert (list(dataset.draft), dataset.draft_size, dataset.draft_dirty) == (["a", "c"], 2, False)
    assert (dataset.version_numbers, dataset.next_version_number) == ([1], 2)
    assert draft(copy) == draft(dataset)


def test_restoring_a_version_makes_the_draft_its_items_by_reference():
    dataset = Dataset(name="d", description="", metadata={})
    dataset.add_items([item("new")])
    base = uuid4()
    dataset.restore_draft(base, 1, 5)
    dataset.remove_items(["old-1"], {"old-1", "old-2"})  # an item of the base version, not of the added ones
    names, copy = replayed(dataset)
    assert names[-2:] == ["Dataset.DraftRestored", "Dataset.ItemsRemoved"]
    assert (dataset.draft, dataset.draft_base, dataset.draft_base_removed) == ({}, base, ["old-1"])
    assert (dataset.draft_size, dataset.draft_dirty) == (4, True)
    assert draft(copy) == draft(dataset)


@pytest.mark.parametrize(
    ("items", "base_ids", "error", "message"),
    [
        ([], None, Invalid, "items: nothing to add"),
        ([item("a"), item("a")], None, Invalid, "an item id appears twice in the input"),
        ([item("kept")], None, Conflict, "item id kept is already in the draft"),
        ([item("base")], {"base"}, Conflict, "item id base is already in the draft"),
    ],
)
def test_adding_items_refuses_nothing_duplicates_and_clashes(items, base_ids, error, message):
    dataset = Dataset(name="d", description="", metadata={})
    dataset.add_items([item("kept")])
    with pytest.raises(error, match=message):
        dataset.add_items(items, base_ids)
    assert dataset.draft_size == 1


@pytest.mark.parametrize(
    ("item_ids", "error", "message"),
    [
        ([], Invalid, "nothing to remove"),
        (["missing"], NotFound, "item missing is not in the draft of dataset"),
        (["a", "a"], Invalid, "an item id is given twice"),
    ],
)
def test_removing_items_refuses_nothing_unknown_ids_and_repeats(item_ids, error, message):
    dataset = Dataset(name="d", description="", metadata={})
    dataset.add_items([item("a")])
    with pytest.raises(error, match=message):
        dataset.remove_items(item_ids, {"a"})
    assert dataset.draft_size == 1


def test_an_empty_draft_or_one_without_changes_cannot_be_published():
    dataset = Dataset(name="d", description="", metadata={})
    with pytest.raises(Conflict, match="the draft is empty"):
        dataset.check_publishable()
    dataset.add_items([item("a")])
    dataset.record_version(version_id=uuid4(), number=1, n_items=1, description="")
    with pytest.raises(Conflict, match="the draft has no unpublished changes"):
        dataset.check_publishable()


def test_dataset_versions_and_their_chunks_are_immutable_snapshots_with_deterministic_ids():
    dataset_id = uuid4()
    version = DatasetVersion(dataset_id=dataset_id, number=2, description="d", metadata={}, n_items=1,
                             chunk_ids=["c"])  # fmt: skip
    assert version.id == DatasetVersion.create_id(dataset_id, 2) == ids.dataset_version_id(dataset_id, 2)
    chunk = DatasetVersionChunk(dataset_version_id=version.id, index=0, start=0, items=[item("a")])
    for aggregate, name in ((version, "DatasetVersion.Created"), (chunk, "DatasetVersionChunk.Created")):
        names, copy = replayed(aggregate)
        assert names == [name] and copy.__dict__ == aggregate.__dict__
    assert commands(DatasetVersion) == commands(DatasetVersionChunk) == []  # immutable once created


COMPONENTS = [{"name": "agent", "type": "agent"}, {"name": "f", "type": "function"}]


def test_a_deployment_knows_its_components_and_their_types():
    deployment = Deployment(name="d", kind="module", module="m", path="/p", url="", components=COMPONENTS)
    names, copy = replayed(deployment)
    assert names == ["Deployment.Created"] and copy.components == COMPONENTS
    deployment.check_component("agent", "agent")
    with pytest.raises(
        Invalid, match=r"target.component_type: component 'f' of deployment .* is a function, not a agent"
    ):
        deployment.check_component("f", "agent")
    with pytest.raises(Invalid, match=r"target.component_name: .* has no component 'x' \(it has: agent, f\)"):
        deployment.check_component("x", "agent")
    empty = Deployment(name="e", kind="http", module="", path="", url="http://h", components=[])
    with pytest.raises(Invalid, match=r"\(it has: none\)"):
        empty.check_component("x", "agent")


def test_an_experiment_counts_revisions_and_needs_a_version_per_revision():
    experiment = Experiment(name="e", description="", definition={"a": 1})
    assert (experiment.revision, experiment.needs_new_version) == (1, True)
    version_id = ids.experiment_version_id(experiment.id, 1)
    experiment.record_version(version_id=version_id, number=1, revision=1)
    assert not experiment.needs_new_version
    experiment.update_definition({"a": 1})  # unchanged: no event
    assert (experiment.revision, experiment.needs_new_version) == (1, False)
    experiment.update_definition({"a": 2})
    assert (experiment.revision, experiment.needs_new_version) == (2, True)
    names, copy = replayed(experiment)
    assert names == ["Experiment.Created", "Experiment.VersionSnapshotted", "Experiment.DefinitionUpdated"]
    assert (copy.definition, copy.revision, copy.versions, copy.latest_version_id, copy.latest_version_revision) == (
        {"a": 2}, 2, 1, version_id, 1)  # fmt: skip


def test_an_experiment_version_has_a_deterministic_id():
    experiment_id = uuid4()
    version = ExperimentVersion(experiment_id=experiment_id, number=3, definition={"a": 1})
    assert version.id == ExperimentVersion.create_id(experiment_id, 3) == ids.experiment_version_id(experiment_id, 3)
    names, copy = replayed(version)
    assert names == ["ExperimentVersion.Created"] and (copy.number, copy.definition) == (3, {"a": 1})


def test_a_scorer_spec_snapshots_its_component():
    deployment_id = uuid4()
    scorer = Scorer(name="s", description="", deployment_id=deployment_id, component_name="check")
    names, copy = replayed(scorer)
    assert names == ["Scorer.Created"]
    assert copy.spec() == scorer.spec() == {
        "type": "custom", "scorer_id": str(scorer.id), "name": "s", "deployment_id": str(deployment_id),
        "component_name": "check", "config": {},
    }  # fmt: skip
