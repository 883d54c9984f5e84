"""A unique name is accepted wherever an id is (resolved in the current project, locally and through a server);
an ambiguous name is refused listing its candidates; another project's names are not found."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from agnt5_evals.domain.errors import EXIT_USAGE
from tests.cli.conftest import Agnt5, data, out

pytestmark = pytest.mark.both_modes

SCORER_MODULE = """
from agnt5_evals import scorer


@scorer("always")
def always(request):
    return True
"""


def same(agnt5: Agnt5, by_name: list[str], by_id: list[str]) -> dict:
    """The command by name and by id print the same JSON; that JSON."""
    named = data(agnt5(*by_name, "--format", "json"))
    assert named == data(agnt5(*by_id, "--format", "json")), f"{by_name} differs from {by_id}"
    return named


def test_every_kind_by_name_gives_what_its_id_gives(agnt5: Agnt5, agent_dir: Path, tmp_path: Path) -> None:
    ds = out(agnt5("datasets", "create", "--name", "orders"))
    agnt5("datasets", "upload", "orders", input="\n".join(json.dumps({"input": {"order_id": n}}) for n in (1, 2)))
    v1 = out(agnt5("datasets", "publish", "orders"))
    agnt5("datasets", "add-example", "orders", "--input", '{"order_id": 3}')
    v2 = out(agnt5("datasets", "publish", "orders"))
    assert same(agnt5, ["datasets", "show", "orders"], ["datasets", "show", ds])["versions"] == 2
    same(agnt5, ["datasets", "versions", "export", "orders", "v1"], ["datasets", "versions", "export", ds, v1])
    compared = same(agnt5, ["datasets", "versions", "compare", "orders", "1", "v2"],
                    ["datasets", "versions", "compare", ds, v1, v2])  # fmt: skip
    assert len(compared["added"]) == 1

    good = out(agnt5("deployments", "create", "--name", "good", "--module", "good_agent", "--path", str(agent_dir)))
    assert same(agnt5, ["deployments", "show", "good"], ["deployments", "show", good])["id"] == good
    (tmp_path / "judges").mkdir()
    (tmp_path / "judges" / "judges.py").write_text(textwrap.dedent(SCORER_MODULE))
    agnt5("deployments", "create", "--name", "judges", "--module", "judges", "--path", str(tmp_path / "judges"))
    scorer = out(agnt5("scorers", "create", "--name", "always", "--deployment-id", "judges",
                       "--component-name", "always"))  # fmt: skip
    prompt = out(agnt5("prompts", "create", "--name", "greeting", "--model", "m", "--template", "hi"))
    same(agnt5, ["prompts", "versions", "list", "greeting"], ["prompts", "versions", "list", prompt])

    def create(name: str, *refs: str) -> dict:
        dataset, version, deployment, scorer_ref = refs
        return data(agnt5("experiments", "create", "--name", name, "--dataset-id", dataset, "--dataset-version-id",
                          version, "--deployment-id", deployment, "--component-name", "support_agent",
                          "--component-type", "agent", "--builtin-scorer", "json_valid", "--scorer-id", scorer_ref,
                          "--format", "json"))  # fmt: skip

    named, by_id = create("support", "orders", "v1", "good", "always"), create("by-id", ds, v1, good, scorer)
    assert named["definition"] == by_id["definition"]
    prompted = data(agnt5("experiments", "create", "--name", "prompted", "--dataset-id", "orders",
                          "--dataset-version-id", "2", "--target-type", "prompt", "--prompt-id", "greeting",
                          "--prompt-version-id", "v1", "--builtin-scorer", "json_valid",
                          "--format", "json"))  # fmt: skip
    assert prompted["definition"]["target"]["prompt_id"] == prompt
    assert prompted["dataset_version_id"] == v2

    listed = same(agnt5, ["experiments", "list", "--dataset-id", "orders"], ["experiments", "list", "--dataset-id", ds])
    assert [row["name"] for row in listed] == ["support", "by-id", "prompted"]
    agnt5("experiments", "update", "by-id", "--config", '{"passed_threshold": 0}')
    run = data(agnt5("experiments", "run", "support", "--name", "nightly", "--deployment-id", "good",
                     "--wait", "--format", "json"))  # fmt: skip
    assert run["status"] == "completed"
    same(agnt5, ["experiments", "runs", "show", "nightly"], ["experiments", "runs", "show", run["id"]])
    same(agnt5, ["reports", "summary", "nightly"], ["reports", "summary", run["id"]])
    same(agnt5, ["experiments", "runs", "list", "support"], ["experiments", "runs", "list", named["id"]])
    same(agnt5, ["experiments", "versions", "list", "support"], ["experiments", "versions", "list", named["id"]])
    same(agnt5, ["scores", "list", "--run-id", "nightly"], ["scores", "list", "--run-id", run["id"]])
    again = data(agnt5("experiments", "run", "support", "--experiment-version-id", "v1", "--name", "again",
                       "--wait", "--format", "json"))  # fmt: skip
    assert again["experiment_version_id"] == run["experiment_version_id"]
    events = same(agnt5, ["audit", "events", "--run-id", "nightly"], ["audit", "events", "--run-id", run["id"]])
    assert events[0]["topic"].endswith("Run.Started")


def test_an_ambiguous_name_lists_its_candidates_and_exits_1(agnt5: Agnt5) -> None:
    first = data(agnt5("datasets", "create", "--name", "orders", "--format", "json"))
    second = data(agnt5("datasets", "create", "--name", "orders", "--format", "json"))
    refused = agnt5("datasets", "show", "orders", code=EXIT_USAGE)
    assert refused.stderr.strip() == (
        f"error: DATASET_ID: 2 datasets are named 'orders', give the id of one: {first['id']} (created "
        f"{first['created_at']}); {second['id']} (created {second['created_at']})"
    )
    listing = agnt5("experiments", "list", "--dataset-id", "orders", code=EXIT_USAGE)
    assert listing.stderr.startswith("error: --dataset-id: 2 datasets are named 'orders'")
    assert data(agnt5("datasets", "show", second["id"], "--format", "json"))["id"] == second["id"]


def test_an_unknown_name_is_not_found_naming_the_argument(agnt5: Agnt5) -> None:
    ds = out(agnt5("datasets", "create", "--name", "orders"))
    assert agnt5("datasets", "show", "nope", code=EXIT_USAGE).stderr.strip() == (
        "error: DATASET_ID: no dataset 'nope' in this project"
    )
    assert agnt5("experiments", "runs", "show", "nope", code=EXIT_USAGE).stderr.strip() == (
        "error: RUN_ID: no run 'nope' in this project"
    )
    missing = agnt5("datasets", "versions", "export", "orders", "v9", code=EXIT_USAGE)
    assert missing.stderr.strip() == "error: VERSION_ID: the dataset has no version v9"
    named_like_an_id = out(agnt5("datasets", "create", "--name", ds.replace(ds[:8], "00000000")))
    assert (
        agnt5("datasets", "show", ds.replace(ds[:8], "00000000"), code=EXIT_USAGE).stderr.strip().endswith("not found")
    ), "a string that parses as a UUID is an id, never a name"
    assert named_like_an_id


def test_another_projects_names_are_not_found(agnt5: Agnt5) -> None:
    agnt5("projects", "create", "--id", "team-a", "--name", "Team A")
    secret = out(agnt5("--project-id", "team-a", "datasets", "create", "--name", "secret"))
    assert out(agnt5("--project-id", "team-a", "datasets", "show", "secret", "--format", "json")).count(secret) == 1
    hidden = agnt5("datasets", "show", "secret", code=EXIT_USAGE)
    assert hidden.stderr.strip() == "error: DATASET_ID: no dataset 'secret' in this project"
    mine = out(agnt5("datasets", "create", "--name", "secret"))
    assert data(agnt5("datasets", "show", "secret", "--format", "json"))["id"] == mine  # not ambiguous with A's
