"""The pure rule of references by name (``domain.names``) and of archiving (``domain.archiving``)."""

from __future__ import annotations

from uuid import uuid4

import pytest

from agnt5_evals.domain.archiving import check_archiving
from agnt5_evals.domain.errors import Conflict, Invalid, NotFound
from agnt5_evals.domain.model import Dataset, Experiment
from agnt5_evals.domain.names import as_id, check_ref, pick, version_number

A, B = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"


def test_a_string_that_parses_as_a_uuid_is_an_id():
    assert as_id(f" {A.upper()} ") == A
    assert as_id("orders") is None and as_id("3") is None


def test_one_candidate_is_the_id():
    assert pick("dataset", "orders", [{"id": A, "created_at": "t1"}], "DATASET_ID") == A


def test_no_candidate_is_not_found_naming_the_field():
    with pytest.raises(NotFound) as missing:
        pick("dataset", "orders", [], "DATASET_ID")
    assert (missing.value.message, missing.value.field) == ("no dataset 'orders' in this project", "DATASET_ID")
    with pytest.raises(NotFound, match="the dataset has no version v3"):
        pick("dataset_version", "v3", [], "VERSION_ID")


def test_an_ambiguous_name_lists_every_candidate_with_a_runs_experiment():
    rows = [
        {"id": A, "created_at": "t1", "experiment_id": "e1", "experiment_name": "nightly"},
        {"id": B, "created_at": "t2", "experiment_id": "e2", "experiment_name": "pr"},
    ]
    with pytest.raises(Invalid) as ambiguous:
        pick("run", "ci", rows, "RUN_ID")
    assert ambiguous.value.field == "RUN_ID"
    assert ambiguous.value.message == (
        f"2 runs are named 'ci', give the id of one: {A} (created t1, experiment 'nightly' e1); "
        f"{B} (created t2, experiment 'pr' e2)"
    )


@pytest.mark.parametrize(("ref", "number"), [("3", 3), ("v3", 3), ("V12", 12)])
def test_a_version_is_its_number(ref, number):
    assert version_number("dataset_version", ref, "VERSION_ID") == number


@pytest.mark.parametrize("ref", ["v", "0", "v0", "three", "3.0", "-1"])
def test_a_version_reference_that_is_no_number_is_invalid(ref):
    with pytest.raises(Invalid, match="neither a dataset version id nor a version number"):
        version_number("dataset_version", ref, "VERSION_ID")


def test_an_empty_reference_or_an_unknown_kind_is_invalid():
    with pytest.raises(Invalid, match="give a dataset id or name"):
        check_ref("dataset", "  ", "DATASET_ID")
    with pytest.raises(Invalid) as unknown:
        check_ref("key", "x", "ref")
    assert unknown.value.field == "kind"


def test_archiving_twice_or_unarchiving_an_active_one_conflicts():
    check_archiving("dataset", uuid4(), "orders", False, True)
    with pytest.raises(Conflict, match="is already archived"):
        check_archiving("dataset", uuid4(), "orders", True, True)
    with pytest.raises(Conflict, match="is not archived"):
        check_archiving("experiment", uuid4(), "exp", False, False)


def test_archived_is_recorded_as_events_and_an_archived_experiment_starts_no_run():
    dataset = Dataset(name="orders", description="", metadata={})
    dataset.set_archived(True)
    dataset.set_archived(False)
    assert [type(e).__qualname__ for e in dataset.collect_events()] == [
        "Dataset.Created", "Dataset.Archived", "Dataset.Unarchived"]  # fmt: skip
    experiment = Experiment(name="exp", description="", definition={})
    experiment.set_archived(True)
    with pytest.raises(Conflict, match=f"experiment {experiment.id} \\(exp\\) is archived.*experiments unarchive"):
        experiment.check_runnable()
    assert [type(e).__qualname__ for e in experiment.collect_events()][-1] == "Experiment.Archived"
