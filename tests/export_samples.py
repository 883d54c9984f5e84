"""A run's read-model rows with awkward values (markup, formulas, control characters), for the export tests."""

from __future__ import annotations

from typing import Any

from agnt5_evals.domain.exports import RunExport, project
from agnt5_evals.domain.reports import run_summary

HOSTILE = "<script>window.pwned = 1</script> & ]]> \x01\x1b | `tick` *star*"
STACK = 'Traceback (most recent call last):\n  File "agent.py", line 3\nRuntimeError: kaboom'


def _score(key: str, index: int, passed: bool, label: str, explanation: str) -> dict[str, Any]:
    return {"scorer_key": key, "scorer_index": index, "score": 1.0 if passed else 0.0, "passed": passed,
            "errored": False, "label": label, "explanation": explanation, "metadata": {"n": index}}  # fmt: skip


def _item(position: int, status: str, output: Any, scores: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"id": f"ri{position}", "position": position, "dataset_item_id": f"d{position}", "repetition": 0,
            "status": status, "output": output, "error": None, "duration_ms": 100.0 * (position + 1), "tokens": 7,
            "events": [], "scores": scores, **extra}  # fmt: skip


def sample_rows() -> dict[str, Any]:
    """The run, its scorer aggregates, its four items (passed, failed twice, errored) and their dataset items."""
    run = {"id": "r1", "name": "candidate", "experiment_id": "e1", "experiment_version_id": "ev1",
           "dataset_version_id": "dv1", "spec": {"target": {}, "config": {"passed_threshold": 0.5}},
           "status": "completed", "reason": None, "total": 4, "done": 4, "passed": 1, "failed": 2, "errored": 1,
           "created_at": "2026-01-01T00:00:00+00:00", "finished_at": "2026-01-01T00:01:00+00:00"}  # fmt: skip
    scorers = [{"scorer_key": key, "n": 3, "sum_score_e9": n * 10**9, "n_passed": n, "n_failed": 3 - n, "n_errored": 0}
               for key, n in (("says_ok", 1), ("long_enough", 2))]  # fmt: skip
    items = [
        _item(0, "passed", "ok fine", [_score("says_ok", 0, True, "ok", "found ok"),
                                       _score("long_enough", 1, True, "long", "7 chars")]),
        _item(1, "failed", "=HYPERLINK(\"http://evil\")", [_score("says_ok", 0, False, "missing", "no ok in it"),
                                                          _score("long_enough", 1, True, "long", "24 chars")]),
        _item(2, "failed", {"text": HOSTILE}, [_score("says_ok", 0, False, "missing", HOSTILE),
                                              _score("long_enough", 1, False, "short", "too short")]),
        _item(3, "errored", None, [], error="RuntimeError: kaboom",
              events=[{"event_type": "run.failed", "data": {"stack": STACK}}]),
    ]  # fmt: skip
    values = [
        {"item_id": "d0", "input": {"q": "say ok"}, "expected_output": "ok"},
        {"item_id": "d1", "input": "+1 formula", "expected_output": {"k": "-1"}},
        {"item_id": "d2", "input": {"html": HOSTILE}, "expected_output": "@at"},
        {"item_id": "d3", "input": {"boom": True}, "expected_output": None},
    ]
    return {"run": run, "scorers": scorers, "items": items, "values": values}


def sample_export() -> RunExport:
    rows = sample_rows()
    summary = run_summary(rows["run"], rows["scorers"])
    return project("support-agent", rows["run"], summary, rows["items"], rows["values"])
