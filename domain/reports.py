"""Run summaries, evidence and export rows: pure shaping of read-model rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from agnt5_evals.domain.gates import Rule, Verdict, pass_rate, verdict

EXPORT_COLUMNS = [
    "experiment_name", "run_id", "run_name", "index", "run_item_id", "item_id", "repetition", "status",
    "passed", "error", "duration_ms", "scorer", "score", "scorer_passed", "scorer_errored", "label",
    "explanation", "metadata",
]  # fmt: skip

EVIDENCE_PARTS = ("scorer_input", "scorer_output", "evidence")


def gate_verdict(gate: Verdict) -> bool | None:
    """``gate.passed`` as reports show it: the verdict of a completed run; None (no verdict) while the run runs and
    for a failed or cancelled one, whose gate was never judged (its top-level ``passed`` is false: it did not pass)."""
    return gate.gate_passed if gate.status == "completed" else None


def run_summary(
    run: Mapping[str, Any], scorer_rows: Iterable[Mapping[str, Any]], extra_rules: Sequence[Rule] = ()
) -> dict[str, Any]:
    """Status, totals, pass rate, gate (with each rule's numbers) and per-scorer aggregates of one run;
    ``extra_rules``: gate rules computed elsewhere (the baseline's, ``services.gates``)."""
    config = run["spec"].get("config", {})
    scorers = [scorer_aggregate(row) for row in scorer_rows]
    gate = verdict(run["status"], run["total"], run["passed"], config, scorers, extra_rules)
    return {
        "id": run["id"],
        "name": run["name"],
        "experiment_id": run["experiment_id"],
        "experiment_version_id": run["experiment_version_id"],
        "dataset_version_id": run["dataset_version_id"],
        "deployment_id": run["spec"]["target"].get("deployment_id"),
        "code_digest": run["spec"]["target"].get("code_digest"),
        "editable": run["spec"]["target"].get("editable"),
        "build": run["spec"]["target"].get("build"),
        "source_run_id": run["spec"].get("source_run_id"),
        "status": run["status"],
        "reason": run["reason"],
        "total_items": run["total"],
        "done_items": run["done"],
        "passed_items": run["passed"],
        "failed_items": run["failed"],
        "errored_items": run["errored"],
        "pass_rate": pass_rate(run["passed"], run["done"]) if run["status"] == "running" else gate.pass_rate,
        "gate": {
            "passed_threshold": gate.threshold,
            "max_failed_items": gate.max_failed_items,
            "passed": gate_verdict(gate),
            "rules": [rule.as_dict() for rule in gate.rules],
        },
        "passed": None if run["status"] == "running" else gate.gate_passed,
        "total_run_items": run["total"],
        "spec": run["spec"],
        "scorers": scorers,
        "created_at": run["created_at"],
        "finished_at": run["finished_at"],
    }


def run_list_row(run: Mapping[str, Any]) -> dict[str, Any]:
    """A run in a list (``runs list``): its summary's fields, with the same names and meanings, but the per-scorer
    aggregates."""
    row = run_summary(run, ())
    del row["scorers"]
    return row


def scorer_aggregate(row: Mapping[str, Any]) -> dict[str, Any]:
    """One scorer's aggregates from its ``run_scorers`` row."""
    return {
        "scorer": row["scorer_key"],
        "mean_score": row["sum_score_e9"] / 1e9 / row["n"] if row["n"] else None,
        "passed": row["n_passed"],
        "failed": row["n_failed"],
        "errored": row["n_errored"],
        "pass_rate": pass_rate(row["n_passed"], row["n"]),
    }


def run_stats(stats: Mapping[str, Any], k: int) -> dict[str, Any]:
    """Latency percentiles and tokens; with repetitions, pass@k, pass^k and the items that disagree."""
    out: dict[str, Any] = {"latency_ms": dict(stats["latency_ms"]), "total_tokens": stats["tokens"]}
    if k > 1:
        groups = stats["repetitions"]
        n = len(groups) or 1
        out["repetitions"] = {
            "k": k,
            "pass_at_k": sum(any(g) for g in groups.values()) / n,
            "pass_hat_k": sum(all(g) for g in groups.values()) / n,
            "flaky_items": sorted(item for item, g in groups.items() if any(g) and not all(g)),
        }
    return out


def failure_stack(events: Any) -> str | None:
    """The stack trace of a run item's failure: ``data.stack`` of its last ``run.failed`` event, if recorded."""
    for event in reversed(events if isinstance(events, list) else []):
        if isinstance(event, dict) and event.get("event_type") == "run.failed":
            data = event.get("data")
            stack = data.get("stack") if isinstance(data, dict) else None
            return stack if isinstance(stack, str) and stack else None
    return None


def scorer_input(score: Mapping[str, Any], item: Mapping[str, Any], dataset_item: Mapping[str, Any]) -> dict[str, Any]:
    """What the scorer saw: the item's input, output, expected output, trace and the scorer config."""
    return {
        "input": dataset_item["input"],
        "output": item["output"],
        "expected_output": dataset_item["expected_output"],
        "events": item["events"],
        "config": score["config"],
    }


def evidence(
    score: Mapping[str, Any],
    item: Mapping[str, Any],
    dataset_item: Mapping[str, Any],
    include: Iterable[str] = EVIDENCE_PARTS,
) -> dict[str, Any]:
    parts: dict[str, Any] = {
        "scorer_input": scorer_input(score, item, dataset_item),
        "scorer_output": {
            "score": score["score"],
            "passed": score["passed"],
            "label": score["label"],
            "explanation": score["explanation"],
            "metadata": score["metadata"],
            "errored": score["errored"],
        },
        "evidence": score["evidence"],
    }
    head = {key: score[key] for key in ("id", "run_id", "run_item_id", "scorer_key", "scorer_name")}
    return {**head, **{part: parts[part] for part in include}}


def export_rows(experiment_name: str, run: Mapping[str, Any], items: Iterable[Mapping[str, Any]]) -> list[list[Any]]:
    """One row per (run item, scorer); an item without scores gets one row with empty scorer fields."""
    rows = []
    for item in items:
        base = [
            experiment_name, run["id"], run["name"], item["position"], item["id"], item["dataset_item_id"],
            item["repetition"], item["status"], item["status"] == "passed", item["error"] or "",
            item["duration_ms"],
        ]  # fmt: skip
        if not item["scores"]:
            rows.append([*base, "", "", "", "", "", "", ""])
        for s in item["scores"]:
            rows.append([*base, s["scorer_key"], s["score"], s["passed"], s["errored"], s["label"] or "",
                         s["explanation"] or "", s["metadata"]])  # fmt: skip
    return rows


EXCERPT_WIDTH = 100


def excerpt(value: Any, width: int = EXCERPT_WIDTH) -> str:
    """One line of at most ``width`` characters showing a value: a string as itself, anything else as compact
    JSON; line breaks shown as ``\\n``; a longer value cut with ``…`` (the full value is in ``--format json``)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    text = text.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\r").replace("\t", " ")
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"


def failing_scorers(scores: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The scores that did not pass: scorer, score, label, explanation, and whether the scorer itself errored."""
    return [
        {"scorer": s["scorer_key"], "score": s["score"], "label": s["label"], "explanation": s["explanation"],
         "errored": s["errored"]}
        for s in scores
        if not s["passed"]
    ]  # fmt: skip
