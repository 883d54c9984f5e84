"""``datasets archive|unarchive`` and ``experiments archive|unarchive``: hidden from lists unless --archived, the
history (versions, runs, the log) kept, and an archived experiment starts no new run."""

from __future__ import annotations

import pytest

from agnt5_evals.domain.errors import EXIT_USAGE
from tests.cli.conftest import Agnt5, data, log_head, out

pytestmark = pytest.mark.both_modes


def names(agnt5: Agnt5, *args: str) -> list[str]:
    return [row["name"] for row in data(agnt5(*args, "--format", "json"))]


def test_an_archived_dataset_is_hidden_from_the_list_and_keeps_its_versions(agnt5: Agnt5, page: dict) -> None:
    other = out(agnt5("datasets", "create", "--name", "other"))
    versions = data(agnt5("datasets", "versions", "list", page["dataset"], "--format", "json"))
    archived = agnt5("datasets", "archive", "support-cases")
    assert out(archived) == page["dataset"]
    assert "Archived dataset 'support-cases'" in archived.stderr
    assert names(agnt5, "datasets", "list") == ["other"]
    listed = data(agnt5("datasets", "list", "--archived", "--format", "json"))
    assert [(row["name"], row["archived"]) for row in listed] == [("support-cases", True), ("other", False)]
    shown = data(agnt5("datasets", "show", "support-cases", "--format", "json"))
    assert shown["archived"] is True and shown["versions_list"] == versions
    assert data(agnt5("datasets", "versions", "list", page["dataset"], "--format", "json")) == versions
    assert names(agnt5, "experiments", "list") == ["support-agent-quality"]  # what was made from it stays
    topics = [e["topic"] for e in data(agnt5("audit", "events", "--dataset-id", page["dataset"], "--format", "json"))]
    assert topics[-1] == "agnt5_evals.domain.model:Dataset.Archived"

    head = log_head()
    again = agnt5("datasets", "archive", page["dataset"], code=EXIT_USAGE)
    assert again.stderr.strip() == f"error: dataset {page['dataset']} (support-cases) is already archived"
    assert agnt5("datasets", "unarchive", other, code=EXIT_USAGE).stderr.strip().endswith("is not archived")
    assert log_head() == head, "a refused archive wrote to the log"
    assert data(agnt5("datasets", "unarchive", "support-cases", "--format", "json"))["archived"] is False
    assert names(agnt5, "datasets", "list") == ["support-cases", "other"]


def test_an_archived_experiment_keeps_its_runs_and_starts_no_new_one(agnt5: Agnt5, page: dict) -> None:
    run = data(agnt5("experiments", "run", page["experiment"], "--name", "before", "--wait", "--format", "json"))
    versions = data(agnt5("experiments", "versions", "list", page["experiment"], "--format", "json"))
    assert out(agnt5("experiments", "archive", "support-agent-quality")) == page["experiment"]
    assert names(agnt5, "experiments", "list") == []
    assert names(agnt5, "experiments", "list", "--archived") == ["support-agent-quality"]
    assert names(agnt5, "experiments", "list", "--status", "archived") == ["support-agent-quality"]
    assert names(agnt5, "experiments", "list", "--status", "active") == []
    assert names(agnt5, "experiments", "runs", "list", "support-agent-quality") == ["before"]
    assert data(agnt5("experiments", "versions", "list", page["experiment"], "--format", "json")) == versions
    assert data(agnt5("experiments", "runs", "show", "before", "--format", "json"))["status"] == run["status"]

    head = log_head()
    refused = agnt5("experiments", "run", "support-agent-quality", code=EXIT_USAGE)
    assert refused.stderr.strip() == (
        f"error: experiment {page['experiment']} (support-agent-quality) is archived: it starts no new runs; "
        f"unarchive it first (agnt5 experiments unarchive {page['experiment']})"
    )
    assert agnt5("experiments", "runs", "rerun", "before", code=EXIT_USAGE).stderr.strip() == refused.stderr.strip()
    assert log_head() == head, "a refused run wrote to the log"
    agnt5("experiments", "unarchive", page["experiment"])
    assert names(agnt5, "experiments", "list") == ["support-agent-quality"]
    topics = [e["topic"] for e in data(agnt5("audit", "events", "--experiment-id", page["experiment"],
                                             "--format", "json"))]  # fmt: skip
    assert topics[-2:] == ["agnt5_evals.domain.model:Experiment.Archived",
                           "agnt5_evals.domain.model:Experiment.Unarchived"]  # fmt: skip
