"""Run summaries, repetition statistics, score evidence and export rows: what each report says about a run."""

from __future__ import annotations

from agnt5_evals.domain.reports import EXPORT_COLUMNS, evidence, export_rows, run_stats, run_summary, scorer_input


def run_row(**changes: object) -> dict:
    row = {
        "id": "r1", "name": "nightly", "experiment_id": "e1", "experiment_version_id": "ev1",
        "dataset_version_id": "dv1", "spec": {"target": {"deployment_id": "dep1"}, "config": {"passed_threshold": 0.5}},
        "status": "completed", "reason": None, "total": 4, "done": 4, "passed": 3, "failed": 1, "errored": 0,
        "created_at": "2026-01-01T00:00:00+00:00", "finished_at": "2026-01-01T00:01:00+00:00",
    }  # fmt: skip
    return {**row, **changes}


def test_summary_of_a_finished_run_gives_its_counts_pass_rate_and_gate():
    scorer = {"scorer_key": "json_valid", "n": 4, "sum_score_e9": 3 * 10**9, "n_passed": 3, "n_failed": 1,
              "n_errored": 0}  # fmt: skip
    assert run_summary(run_row(), [scorer]) == {
        "id": "r1", "name": "nightly", "experiment_id": "e1", "experiment_version_id": "ev1",
        "dataset_version_id": "dv1", "deployment_id": "dep1", "code_digest": None, "editable": None, "build": None,
        "source_run_id": None,
        "status": "completed", "reason": None,
        "total_items": 4, "done_items": 4, "passed_items": 3, "failed_items": 1, "errored_items": 0,
        "pass_rate": 0.75, "gate": {"passed_threshold": 0.5, "max_failed_items": None, "passed": True, "rules": [
            {"rule": "min_pass_rate", "observed": 0.75, "threshold": 0.5, "passed": True,
             "message": "pass rate 75.0% >= passed_threshold 0.5", "scorer": None, "baseline_run_id": None,
             "upper_bound": None, "alpha": None, "paired_items": None}]},
        "passed": True, "total_run_items": 4, "spec": run_row()["spec"],
        "scorers": [{"scorer": "json_valid", "mean_score": 0.75, "passed": 3, "failed": 1, "errored": 0,
                     "pass_rate": 0.75}],
        "created_at": "2026-01-01T00:00:00+00:00", "finished_at": "2026-01-01T00:01:00+00:00",
    }  # fmt: skip


def test_summary_gate_uses_the_default_threshold_of_one_without_config():
    summary = run_summary(run_row(spec={"target": {}}), [])
    gate = {key: value for key, value in summary["gate"].items() if key != "rules"}
    assert gate == {"passed_threshold": 1.0, "max_failed_items": None, "passed": False}
    assert [r["message"] for r in summary["gate"]["rules"]] == ["pass rate 75.0% < passed_threshold 1"]
    assert summary["deployment_id"] is None


def test_summary_gate_of_a_failed_run_does_not_pass_whatever_its_pass_rate():
    summary = run_summary(run_row(status="failed", reason="boom", passed=4, failed=0), [])
    assert (summary["reason"], summary["pass_rate"], summary["gate"]["passed"]) == ("boom", 1.0, None)
    assert summary["passed"] is False  # no gate verdict, and the run did not pass


def test_a_running_run_has_no_verdict_yet():
    summary = run_summary(run_row(status="running", done=2, passed=2, failed=0), [])
    assert (summary["pass_rate"], summary["gate"]["passed"], summary["passed"]) == (1.0, None, None)


def test_a_scorer_without_scores_has_no_mean_and_pass_rate_zero():
    empty = {"scorer_key": "s", "n": 0, "sum_score_e9": 0, "n_passed": 0, "n_failed": 0, "n_errored": 0}
    (row,) = run_summary(run_row(), [empty])["scorers"]
    assert (row["mean_score"], row["pass_rate"]) == (None, 0.0)


def test_a_scorers_mean_is_its_exact_integer_sum_over_its_count():
    row = {"scorer_key": "s", "n": 3, "sum_score_e9": 2 * 10**9, "n_passed": 2, "n_failed": 0, "n_errored": 1}
    (scorer,) = run_summary(run_row(), [row])["scorers"]
    assert scorer["mean_score"] == 2 / 3 and scorer["pass_rate"] == 2 / 3 and scorer["errored"] == 1


# repetition statistics ------------------------------------------------------------------------------------------

STATS = {
    "latency_ms": {"p50": 10.0, "p95": 20.0, "max": 30.0},
    "tokens": 123,
    "repetitions": {"a": [True, True, True], "b": [True, False, True], "c": [False, False, False], "d": [False, True]},
}


def test_stats_without_repetitions_give_latency_and_tokens_only():
    assert run_stats(STATS, 1) == {"latency_ms": {"p50": 10.0, "p95": 20.0, "max": 30.0}, "total_tokens": 123}


def test_pass_at_k_pass_hat_k_and_flaky_items_over_repetitions():
    assert run_stats(STATS, 3)["repetitions"] == {
        "k": 3,
        "pass_at_k": 3 / 4,  # a, b, d passed at least once
        "pass_hat_k": 1 / 4,  # only a passed every time
        "flaky_items": ["b", "d"],  # passed sometimes, not always
    }


def test_repetition_statistics_of_a_run_without_items_are_zero():
    assert run_stats({**STATS, "repetitions": {}}, 2)["repetitions"] == {
        "k": 2, "pass_at_k": 0.0, "pass_hat_k": 0.0, "flaky_items": []
    }  # fmt: skip


# evidence -------------------------------------------------------------------------------------------------------

SCORE = {
    "id": "s1", "run_id": "r1", "run_item_id": "i1", "scorer_key": "contains#2", "scorer_name": "contains",
    "config": {"pattern": "x"}, "score": 0.0, "passed": False, "label": "not_found", "explanation": "no x",
    "metadata": {"m": 1}, "errored": False, "evidence": {"output_text": "abc", "pattern": "x"},
}  # fmt: skip
ITEM = {"output": "abc", "events": [{"type": "tool"}]}
DATASET_ITEM = {"input": {"q": 1}, "expected_output": "abx"}


def test_scorer_input_is_what_the_scorer_saw():
    assert scorer_input(SCORE, ITEM, DATASET_ITEM) == {
        "input": {"q": 1}, "output": "abc", "expected_output": "abx", "events": [{"type": "tool"}],
        "config": {"pattern": "x"},
    }  # fmt: skip


def test_evidence_has_the_scorer_input_its_output_and_its_evidence():
    assert evidence(SCORE, ITEM, DATASET_ITEM) == {
        "id": "s1", "run_id": "r1", "run_item_id": "i1", "scorer_key": "contains#2", "scorer_name": "contains",
        "scorer_input": scorer_input(SCORE, ITEM, DATASET_ITEM),
        "scorer_output": {"score": 0.0, "passed": False, "label": "not_found", "explanation": "no x",
                          "metadata": {"m": 1}, "errored": False},
        "evidence": {"output_text": "abc", "pattern": "x"},
    }  # fmt: skip


def test_evidence_includes_only_the_parts_asked_for():
    shown = evidence(SCORE, ITEM, DATASET_ITEM, include=("evidence",))
    assert set(shown) == {"id", "run_id", "run_item_id", "scorer_key", "scorer_name", "evidence"}


# export ---------------------------------------------------------------------------------------------------------


def run_item(position: int, status: str, scores: list, error: str | None = None) -> dict:
    return {"position": position, "id": f"i{position}", "dataset_item_id": f"d{position}", "repetition": 1,
            "status": status, "error": error, "duration_ms": 5.0, "scores": scores}  # fmt: skip


def test_export_has_one_row_per_item_and_scorer():
    scores = [
        {"scorer_key": "a", "score": 1.0, "passed": True, "errored": False, "label": "found", "explanation": "ok",
         "metadata": {"k": 1}},
        {"scorer_key": "b", "score": 0.0, "passed": False, "errored": True, "label": None, "explanation": None,
         "metadata": {}},
    ]  # fmt: skip
    rows = export_rows("exp", {"id": "r1", "name": "nightly"}, [run_item(0, "failed", scores)])
    assert rows == [
        ["exp", "r1", "nightly", 0, "i0", "d0", 1, "failed", False, "", 5.0, "a", 1.0, True, False, "found", "ok",
         {"k": 1}],
        ["exp", "r1", "nightly", 0, "i0", "d0", 1, "failed", False, "", 5.0, "b", 0.0, False, True, "", "", {}],
    ]  # fmt: skip
    assert all(len(row) == len(EXPORT_COLUMNS) for row in rows)


def test_export_gives_an_item_without_scores_one_row_with_empty_scorer_fields():
    rows = export_rows("exp", {"id": "r1", "name": "n"}, [run_item(3, "errored", [], error="RuntimeError: boom")])
    assert rows == [["exp", "r1", "n", 3, "i3", "d3", 1, "errored", False, "RuntimeError: boom", 5.0,
                     "", "", "", "", "", "", ""]]  # fmt: skip
    assert len(rows[0]) == len(EXPORT_COLUMNS)


def test_export_marks_passed_items_passed():
    (row,) = export_rows("exp", {"id": "r1", "name": "n"}, [run_item(0, "passed", [])])
    assert row[EXPORT_COLUMNS.index("passed")] is True
