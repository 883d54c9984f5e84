"""``experiments run --config``: config overrides for one run; the experiment and its versions stay unchanged."""

from __future__ import annotations

import pytest

from tests.cli.conftest import data, log_head, out

pytestmark = pytest.mark.both_modes


def test_a_run_config_override_applies_to_that_run_only(agnt5, page):
    failing = data(agnt5("experiments", "run", page["experiment"], "--deployment-id", page["bad"], "--wait",
                         "--format", "json", code=2))  # fmt: skip
    assert failing["pass_rate"] == 0.5 and failing["gate"]["passed_threshold"] == 1

    lenient = data(agnt5("experiments", "run", page["experiment"], "--deployment-id", page["bad"], "--wait",
                         "--config", '{"passed_threshold": 0.5, "concurrency": 2}', "--format", "json"))  # fmt: skip
    assert (lenient["gate"]["passed"], lenient["gate"]["passed_threshold"]) == (True, 0.5)
    run = data(agnt5("experiments", "runs", "list", page["experiment"], "--format", "json"))
    spec = next(r for r in run if r["id"] == lenient["id"])["spec"]
    assert spec["config"] == {"passed_threshold": 0.5, "concurrency": 2}
    assert spec["config_overrides"] == {"passed_threshold": 0.5, "concurrency": 2}

    # The definition is untouched: both runs share one experiment version, and the next run gates at 1 again.
    assert [v["number"] for v in data(agnt5("experiments", "versions", "list", page["experiment"],
                                            "--format", "json"))] == [1]  # fmt: skip
    assert {failing["experiment_version_id"], lenient["experiment_version_id"]} == {failing["experiment_version_id"]}
    again = data(agnt5("experiments", "run", page["experiment"], "--deployment-id", page["bad"], "--wait",
                       "--format", "json", code=2))  # fmt: skip
    assert again["gate"]["passed_threshold"] == 1


def test_a_bad_run_config_override_is_one_line_and_writes_nothing(agnt5, page):
    head = log_head()
    for bad, field in (('{"concurrency": 0}', "concurrency"), ('{"passed_threshold": 2}', "passed_threshold"),
                       ("[1]", "JSON object"), ("{nope", "malformed JSON")):  # fmt: skip
        result = agnt5("experiments", "run", page["experiment"], "--config", bad, code=1)
        assert "--config" in result.stderr and field in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert log_head() == head


def test_experiments_list_filters_and_pages(agnt5, page):
    ids = [page["experiment"]]
    for n in range(3):
        ids.append(out(agnt5("experiments", "create", "--name", f"more-{n}", "--dataset-id", page["dataset"],
                             "--dataset-version-id", page["version"], "--deployment-id", page["good"],
                             "--component-name", "support_agent", "--component-type", "agent",
                             "--builtin-scorer", "json_valid")))  # fmt: skip

    def listed(*args):
        return [e["id"] for e in data(agnt5("experiments", "list", *args, "--format", "json"))]

    assert listed() == ids
    assert listed("--page", "2", "--page-size", "3") == ids[3:]
    assert listed("--page", "3", "--page-size", "2") == []
    assert listed("--status", "active", "--type", "component", "--dataset-id", page["dataset"]) == ids
    assert listed("--type", "prompt") == []
    for args, field in ((["--status", "bogus"], "--status"), (["--type", "other"], "--type"),
                        (["--page-size", "0"], "--page-size"), (["--dataset-id", "nope"], "--dataset-id")):  # fmt: skip
        result = agnt5("experiments", "list", *args, code=1)
        assert field in result.stderr
