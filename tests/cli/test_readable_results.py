"""What a person reads after a run: failures and compare flips with input, expected output, outputs and the
failing scorers' labels and explanations; --scorer, --limit and --format json; the comparability check and
--strict; and the flaky items of an experiment."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Agnt5, data, out

pytestmark = pytest.mark.both_modes


def runs(agnt5: Agnt5, page: dict[str, str]) -> tuple[str, str]:
    base = data(agnt5("experiments", "run", page["experiment"], "--wait", "--format", "json"))["id"]
    cand = data(agnt5("experiments", "run", page["experiment"], "--deployment-id", page["bad"], "--wait",
                      "--format", "json", code=2))["id"]  # fmt: skip
    return base, cand


def test_failures_show_what_was_asked_expected_answered_and_why(agnt5: Agnt5, page: dict[str, str]) -> None:
    _, cand = runs(agnt5, page)
    table = out(agnt5("reports", "failures", cand))
    assert "3 failed or errored item(s)" in table
    assert 'input     {"order_id":1}' in table and "expected  " in table and "output    {not json" in table
    assert "failed    json_valid = 0.00 (invalid): output is not valid JSON" in table
    assert "failed    tool_called = 0.00 (not_called): tool 'search_orders' was not called" in table

    full = data(agnt5("reports", "failures", cand, "--format", "json"))
    assert [f["input"] for f in full] == [{"order_id": 1}, {"order_id": 3}, {"order_id": 5}]
    assert all(f["output"] == "{not json" and f["expected_output"] is None for f in full)
    assert [s["scorer"] for s in full[0]["failing_scorers"]] == ["json_valid", "tool_called"]
    assert full[0]["failing_scorers"][1]["label"] == "not_called" and full[0]["failing_scorers"][1]["explanation"]


def test_failures_filter_by_scorer_and_limit(agnt5: Agnt5, page: dict[str, str]) -> None:
    _, cand = runs(agnt5, page)
    assert len(data(agnt5("reports", "failures", cand, "--limit", "2", "--format", "json"))) == 2
    assert len(data(agnt5("reports", "failures", cand, "--scorer", "tool_called", "--format", "json"))) == 3
    limited = out(agnt5("reports", "failures", cand, "--limit", "1"))
    assert "the first 1 failed or errored items" in limited and "... and more" in limited
    refused = agnt5("reports", "failures", cand, "--scorer", "tool_caled", code=1)
    assert "--scorer" in refused.stderr and "tool_called" in refused.stderr


def test_compare_lists_each_flip_readably_with_statistics(agnt5: Agnt5, page: dict[str, str]) -> None:
    base, cand = runs(agnt5, page)
    table = out(agnt5("experiments", "runs", "compare", base, cand))
    assert "pass -> fail: 3" in table and "verdict  within noise" in table  # 3 flips of 6: too few to be sure
    assert 'input     {"order_id":1}' in table and 'input     {"order_id":5}' in table
    assert "was       " in table and "now       {not json" in table
    assert "failed    json_valid = 0.00 (invalid)" in table
    assert "McNemar p = 0.25" in table

    result = data(agnt5("experiments", "runs", "compare", base, cand, "--format", "json"))
    assert result["mcnemar_p_value"] == 0.25 and result["verdict"] == "within noise"
    assert result["paired_pass_rate_delta"] == -0.5
    low, high = result["pass_rate_ci95"]
    assert -1 <= low <= -0.5 <= high <= 0
    flips = result["newly_failing"]
    assert sorted(f["input"]["order_id"] for f in flips) == [1, 3, 5]
    for flip in flips:
        assert flip["compare_output"] == "{not json" and flip["base_error"] is None
        assert f"Order {flip['input']['order_id']}" in str(flip["base_output"])
        assert {s["scorer"] for s in flip["failing_scorers"]} == {"json_valid", "tool_called"}
    assert result["comparability"] == [] and result["warnings"] == []  # one bundle: the same code digest

    limited = data(agnt5("experiments", "runs", "compare", base, cand, "--limit", "1", "--format", "json"))
    assert len(limited["newly_failing"]) == 1 and limited["newly_failing_count"] == 3
    assert "... and 2 more item(s)" in out(agnt5("experiments", "runs", "compare", base, cand, "--limit", "1"))
    only = data(agnt5("experiments", "runs", "compare", base, cand, "--scorer", "json_valid", "--format", "json"))
    assert only["newly_failing_count"] == 3


def test_compare_strict_refuses_runs_that_measured_different_things(agnt5: Agnt5, page: dict[str, str]) -> None:
    base, _ = runs(agnt5, page)
    agnt5("experiments", "update", page["experiment"], "--builtin-scorer", "json_valid")
    other = data(agnt5("experiments", "run", page["experiment"], "--wait", "--format", "json"))["id"]
    warned = agnt5("experiments", "runs", "compare", base, other)
    assert "warning: the runs have different scorer sets" in warned.stderr
    refused = agnt5("experiments", "runs", "compare", base, other, "--strict", code=1)
    assert "not comparable" in refused.stderr and "different scorer sets" in refused.stderr
    result = data(agnt5("experiments", "runs", "compare", base, other, "--format", "json"))
    assert [d["field"] for d in result["comparability"]] == ["scorers"]


def test_flaky_lists_items_whose_verdict_changed_with_their_history(agnt5: Agnt5, page: dict[str, str]) -> None:
    base, cand = runs(agnt5, page)
    again = data(agnt5("experiments", "run", page["experiment"], "--wait", "--format", "json"))["id"]
    report = data(agnt5("reports", "flaky", page["experiment"], "--format", "json"))
    assert [r["id"] for r in report["runs"]] == [base, cand, again]
    assert sorted(i["input"]["order_id"] for i in report["items"]) == [1, 3, 5]
    assert all(i["changes"] == 2 for i in report["items"])
    assert all([h["verdict"] for h in i["history"]] == ["passed", "failed", "passed"] for i in report["items"])
    table = out(agnt5("reports", "flaky", page["experiment"]))
    assert table.count("PFP") == 3
    last_two = data(agnt5("reports", "flaky", page["experiment"], "--last", "2", "--format", "json"))
    assert [r["id"] for r in last_two["runs"]] == [cand, again]
    agnt5("reports", "flaky", page["experiment"], "--last", "1", code=1)  # a usage error


def test_compare_failures_flaky_and_export_take_names(agnt5: Agnt5, page: dict[str, str]) -> None:
    agnt5("experiments", "run", page["experiment"], "--name", "nightly-base", "--wait")
    agnt5("experiments", "run", page["experiment"], "--deployment-id", "bad", "--name", "nightly-cand", "--wait",
          code=2)  # fmt: skip
    result = data(agnt5("experiments", "runs", "compare", "nightly-base", "nightly-cand", "--format", "json"))
    assert result["newly_failing_count"] == 3
    assert len(data(agnt5("reports", "failures", "nightly-cand", "--format", "json"))) == 3
    assert len(data(agnt5("reports", "flaky", "support-agent-quality", "--format", "json"))["items"]) == 3
    markdown = out(agnt5("reports", "export", "nightly-cand", "--artifact-format", "markdown",
                         "--baseline", "nightly-base"))  # fmt: skip
    assert "Newly failing (3)" in markdown
    missing = agnt5("reports", "failures", "no-such-run", code=1)
    assert "RUN_ID" in missing.stderr
