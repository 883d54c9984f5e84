"""Human annotations on run items and the scorer-vs-human agreement report, end to end on each store."""

from __future__ import annotations

import pytest

from tests.cli.conftest import data, log_head

pytestmark = pytest.mark.both_modes


def test_annotations_and_agreement(agnt5, page):
    run = data(agnt5("experiments", "run", page["experiment"], "--deployment-id", page["bad"], "--wait",
                     "--format", "json", code=2))  # fmt: skip
    items = data(agnt5("experiments", "runs", "show", run["id"], "--format", "json"))
    assert items["total_items"] == 6
    rows = data(agnt5("scores", "list", "--run-id", run["id"], "--format", "json"))
    item_ids = sorted({s["run_item_id"] for s in rows}, key=lambda i: next(s["position"] for s in rows
                                                                            if s["run_item_id"] == i))  # fmt: skip
    # The human says every item is fine: the scorers agree on the 3 passing items only.
    for item_id in item_ids:
        created = data(agnt5("scores", "annotate", run["id"], item_id, "--name", "helpful", "--label", "pass",
                             "--metadata", '{"annotator": "ana"}', "--format", "json"))  # fmt: skip
        assert (created["name"], created["label"], created["metadata"]) == ("helpful", "pass", {"annotator": "ana"})
    agnt5("scores", "annotate", run["id"], item_ids[0], "--name", "tone", "--score", "0.2")
    listed = data(agnt5("scores", "annotations", "--run-id", run["id"], "--name", "helpful", "--format", "json"))
    assert [a["run_item_id"] for a in listed] == item_ids

    report = data(agnt5("reports", "agreement", run["id"], "--name", "helpful", "--format", "json"))
    by = {s["scorer"]: s for s in report["scorers"]}
    assert set(by) == {"json_valid", "tool_called", "(item status)"}
    assert (by["json_valid"]["n"], by["json_valid"]["agreement"], by["json_valid"]["kappa"]) == (6, 0.5, 0.0)
    assert by["json_valid"]["confusion"] == {"both_pass": 3, "scorer_pass_human_fail": 0,
                                             "scorer_fail_human_pass": 3, "both_fail": 0}  # fmt: skip
    low, high = by["json_valid"]["agreement_ci95"]
    assert 0.18 < low < 0.2 and 0.8 < high < 0.82  # Wilson 95% for 3/6
    table = agnt5("reports", "agreement", run["id"], "--name", "helpful")
    assert "json_valid" in table.stdout and "0.19-0.81" in table.stdout

    # Two names: the report needs --name; annotations never change scores or the verdict.
    assert "--name" in agnt5("reports", "agreement", run["id"], code=1).stderr
    assert data(agnt5("scores", "list", "--run-id", run["id"], "--format", "json")) == rows
    agnt5("reports", "ci", run["id"], code=2)


def test_bad_annotations_are_one_line_and_write_nothing(agnt5, page):
    run = data(agnt5("experiments", "run", page["experiment"], "--wait", "--format", "json"))
    other = data(agnt5("experiments", "run", page["experiment"], "--wait", "--format", "json"))
    item = data(agnt5("scores", "list", "--run-id", run["id"], "--format", "json"))[0]["run_item_id"]
    foreign = data(agnt5("scores", "list", "--run-id", other["id"], "--format", "json"))[0]["run_item_id"]
    missing = "00000000-0000-4000-8000-000000000000"
    head = log_head()
    for args, message in (
        ([run["id"], item, "--name", "h"], "--label, --score"),
        ([run["id"], item, "--name", " ", "--label", "pass"], "--name"),
        ([run["id"], item, "--name", "h", "--score", "2"], "--score"),
        ([run["id"], item, "--name", "h", "--label", "x", "--metadata", "[1]"], "--metadata"),
        ([run["id"], foreign, "--name", "h", "--label", "pass"], "is not part of run"),
        ([run["id"], missing, "--name", "h", "--label", "pass"], "RUN_ITEM_ID"),
        ([missing, item, "--name", "h", "--label", "pass"], f"run {missing} not found"),
    ):
        result = agnt5("scores", "annotate", *args, code=1)
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "no annotations named" in agnt5("reports", "agreement", run["id"], "--name", "h", code=1).stderr
    assert log_head() == head


def test_scores_list_pages_through_a_run_and_prints_the_same_rows(agnt5, page, monkeypatch):
    """``scores list`` reads a page at a time (here and, through a server, with the ``after`` cursor): pages of 4
    print what one page of all of them prints, in json and jsonl."""
    import json

    from agnt5_evals.cli import gateway
    from agnt5_evals.services import scores

    run = data(agnt5("experiments", "run", page["experiment"], "--wait", "--format", "json"))
    rows = data(agnt5("scores", "list", "--run-id", run["id"], "--format", "json"))
    assert len(rows) == 12
    monkeypatch.setattr(gateway, "SCORES_PAGE", 4)
    monkeypatch.setattr(scores, "PAGE", 4)
    assert data(agnt5("scores", "list", "--run-id", run["id"], "--format", "json")) == rows
    lines = agnt5("scores", "list", "--run-id", run["id"], "--format", "jsonl").stdout.splitlines()
    assert [json.loads(line) for line in lines] == rows
