"""The commands of the product page, as written, end to end on each store."""

from __future__ import annotations

import csv
import io
import json

import pytest

from agnt5_evals.domain.reports import EXPORT_COLUMNS
from tests.cli.conftest import data, on_the_server, out

pytestmark = pytest.mark.both_modes


def test_run_wait_gate_passes_with_exit_0(agnt5, page):
    result = agnt5("experiments", "run", page["experiment"], "--wait", "--timeout", "2m", "--format", "json")
    summary = data(result)
    assert summary["status"] == "completed"
    assert (summary["total_items"], summary["passed_items"], summary["pass_rate"]) == (6, 6, 1.0)
    assert {key: value for key, value in summary["gate"].items() if key != "rules"} == {
        "passed_threshold": 1.0, "max_failed_items": None, "passed": True}  # fmt: skip
    assert [r["message"] for r in summary["gate"]["rules"]] == ["pass rate 100.0% >= passed_threshold 1"]
    assert {s["scorer"]: s["mean_score"] for s in summary["scorers"]} == {"json_valid": 1.0, "tool_called": 1.0}


def test_candidate_regression_fails_the_gate_with_exit_2(agnt5, page):
    result = agnt5("experiments", "run", page["experiment"], "--deployment-id", page["bad"], "--name", "ci-abc123",
                   "--wait", "--fail-on-gate", "--format", "json", code=2)  # fmt: skip
    summary = data(result)
    assert summary["name"] == "ci-abc123" and summary["deployment_id"] == page["bad"]
    assert (summary["passed_items"], summary["failed_items"]) == (3, 3)
    assert "gate failed" in result.stderr
    agnt5("reports", "ci", summary["id"], code=2)


def test_fail_on_gate_false_exits_0_on_a_failing_gate(agnt5, page):
    result = agnt5("experiments", "run", page["experiment"], "--deployment-id", page["bad"], "--wait",
                   "--fail-on-gate=false", "--format", "json")  # fmt: skip
    assert data(result)["gate"]["passed"] is False


def test_fire_and_forget_returns_the_run_id_and_the_run_completes(agnt5, page):
    run_id = out(agnt5("experiments", "run", page["experiment"]))
    assert len(run_id) == 36
    assert data(agnt5("reports", "wait", run_id, "--timeout", "2m", "--format", "json"))["status"] == "completed"
    agnt5("reports", "ci", run_id)
    listed = data(agnt5("experiments", "runs", "list", page["experiment"], "--format", "json"))
    assert [r["id"] for r in listed] == [run_id]


def test_compare_shows_flips_and_score_movement(agnt5, page):
    base = data(agnt5("experiments", "run", page["experiment"], "--wait", "--format", "json"))["id"]
    cand = data(agnt5("experiments", "run", page["experiment"], "--deployment-id", page["bad"], "--wait",
                      "--format", "json", code=2))["id"]  # fmt: skip
    result = data(agnt5("experiments", "runs", "compare", base, cand, "--format", "json"))
    assert result["same_dataset_version"] and result["paired_items"] == 6
    assert len(result["newly_failing"]) == 3 and result["newly_passing"] == []
    assert result["pass_rate_delta"] == -0.5
    movement = {s["scorer"]: s["delta"] for s in result["scorers"]}
    assert movement == {"json_valid": -0.5, "tool_called": -0.5}
    back = data(agnt5("experiments", "runs", "compare", cand, base, "--format", "json"))
    assert len(back["newly_passing"]) == 3 and back["newly_failing"] == []
    table = out(agnt5("experiments", "runs", "compare", base, cand))
    assert "pass -> fail: 3" in table and "fail -> pass: 0" in table
    for _ in range(2):  # a short listing (kept per process once) prints its first flips, streamed
        short = data(agnt5("experiments", "runs", "compare", base, cand, "--format", "json", "--limit", "2"))
        assert short["newly_failing"] == result["newly_failing"][:2] and short["newly_failing_count"] == 3


def test_failures_scores_evidence_and_export(agnt5, page, tmp_path):
    run = data(agnt5("experiments", "run", page["experiment"], "--deployment-id", page["bad"], "--wait",
                     "--format", "json", code=2))  # fmt: skip
    failures = data(agnt5("reports", "failures", run["id"], "--format", "json"))
    assert len(failures) == 3 and {f["status"] for f in failures} == {"failed"}
    assert all("json_valid=0.00 (invalid)" in f["failed_scorers"] for f in failures)

    scores = data(agnt5("scores", "list", "--run-id", run["id"], "--format", "json"))
    assert len(scores) == 12
    failed = next(s for s in scores if s["scorer_key"] == "tool_called" and not s["passed"])
    assert failed["label"] == "not_called"
    evidence = data(agnt5("scores", "evidence", failed["id"], "--include", "scorer_input,scorer_output,evidence"))
    assert evidence["scorer_input"]["output"] == "{not json"
    assert evidence["scorer_input"]["config"] == {"tool": "search_orders"}
    assert evidence["scorer_input"]["input"]["order_id"] % 2 == 1
    assert evidence["scorer_output"]["label"] == "not_called" and evidence["scorer_output"]["passed"] is False
    assert evidence["evidence"]["trace_eval_context"]["features"]["tool_call_count"] == 0
    only = data(agnt5("scores", "evidence", failed["id"], "--include", "scorer_output"))
    assert "scorer_input" not in only and "evidence" not in only

    path = tmp_path / "eval-results.csv"
    agnt5("reports", "export", run["id"], "--artifact-format", "csv", "-o", str(path))
    items = list(csv.DictReader(io.StringIO(path.read_text())))
    assert len(items) == 6 and sum(r["status"] == "failed" for r in items) == 3
    assert {r["tool_called.label"] for r in items if r["status"] == "failed"} == {"not_called"}
    agnt5("reports", "export", run["id"], "--artifact-format", "csv", "--layout", "scores", "-o", str(path))
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert list(rows[0]) == EXPORT_COLUMNS
    assert len(rows) == 12
    assert {r["scorer"] for r in rows} == {"json_valid", "tool_called"}
    assert sum(r["status"] == "failed" for r in rows) == 6


def test_regression_dataset_from_failed_items(agnt5, page):
    run = data(agnt5("experiments", "run", page["experiment"], "--deployment-id", page["bad"], "--wait",
                     "--format", "json", code=2))  # fmt: skip
    result = data(agnt5("experiments", "runs", "regression-dataset", run["id"], "--name", "support-agent-regressions",
                        "--start-run", "--deployment-id", page["good"], "--format", "json"))  # fmt: skip
    assert result["items"] == 3
    versions = data(agnt5("datasets", "versions", "list", result["dataset_id"], "--format", "json"))
    assert [(v["number"], v["n_items"]) for v in versions] == [(1, 3)]
    exported = [json.loads(line) for line in out(agnt5("datasets", "versions", "export", result["dataset_id"],
                                                       result["dataset_version_id"])).splitlines()]  # fmt: skip
    assert sorted(e["input"]["order_id"] for e in exported) == [1, 3, 5]
    assert all(e["metadata"]["source_run_id"] == run["id"] for e in exported)
    experiment = data(agnt5("experiments", "list", "--dataset-id", result["dataset_id"], "--format", "json"))[0]
    assert (
        experiment["definition"]["scorers"]
        == data(agnt5("experiments", "list", "--format", "json"))[0]["definition"]["scorers"]
    )
    rerun = data(agnt5("reports", "wait", result["run"]["id"], "--format", "json"))
    assert (rerun["status"], rerun["passed_items"], rerun["deployment_id"]) == ("completed", 3, page["good"])


def test_regression_dataset_of_chosen_items_and_wait(agnt5, page):
    run = data(agnt5("experiments", "run", page["experiment"], "--deployment-id", page["bad"], "--wait",
                     "--format", "json", code=2))  # fmt: skip
    failures = data(agnt5("reports", "failures", run["id"], "--format", "json"))
    chosen = failures[0]["id"]
    result = agnt5("experiments", "runs", "regression-dataset", run["id"], "--name", "one", "--run-item-id", chosen,
                   "--start-run", "--wait", "--format", "json", code=2)  # fmt: skip
    assert '"items": 1' in result.stdout


def test_a_fire_and_forget_run_completes_after_the_cli_process_exits(page, store):
    import os
    import subprocess
    import sys
    from pathlib import Path

    agnt5_bin = Path(sys.executable).parent / "agnt5"
    started = subprocess.run([str(agnt5_bin), "experiments", "run", page["experiment"]], capture_output=True,
                             text=True, env=os.environ, timeout=60)  # fmt: skip
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    waited = subprocess.run([str(agnt5_bin), "reports", "wait", run_id, "--timeout", "2m", "--format", "json"],
                            capture_output=True, text=True, env=os.environ, timeout=180)  # fmt: skip
    assert waited.returncode == 0, waited.stderr
    assert json.loads(waited.stdout)["passed_items"] == 6


def test_projections_rebuild_answers_identically(agnt5, page):
    run = data(agnt5("experiments", "run", page["experiment"], "--wait", "--format", "json"))
    before = [agnt5("experiments", "runs", "show", run["id"], "--format", "json").stdout,
              agnt5("scores", "list", "--run-id", run["id"], "--format", "json").stdout,
              agnt5("datasets", "list", "--format", "json").stdout]  # fmt: skip
    with on_the_server():  # maintenance runs where the store is
        agnt5("projections", "rebuild")
        status = data(agnt5("projections", "status", "--format", "json"))
    assert status["view_position"] == status["log_position"] > 0
    after = [agnt5("experiments", "runs", "show", run["id"], "--format", "json").stdout,
             agnt5("scores", "list", "--run-id", run["id"], "--format", "json").stdout,
             agnt5("datasets", "list", "--format", "json").stdout]  # fmt: skip
    assert after == before


def test_runs_show_table_has_latency_tokens_and_repetitions(agnt5, page):
    agnt5("experiments", "update", page["experiment"], "--config", '{"passed_threshold": 1, "repetitions": 2}')
    run = data(agnt5("experiments", "run", page["experiment"], "--wait", "--format", "json"))
    assert run["repetitions"] == {"k": 2, "pass_at_k": 1.0, "pass_hat_k": 1.0, "flaky_items": []}
    assert run["total_items"] == 12 and run["latency_ms"]["p95"] >= run["latency_ms"]["p50"] > 0
    table = out(agnt5("experiments", "runs", "show", run["id"]))
    assert "latency    p50" in table and "tokens     0" in table and "repeats    k=2: pass@k 100.0%" in table
