"""How runs, gates and comparisons look on a terminal; and the wait-and-gate loop with its exit codes."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from typing import TYPE_CHECKING, Any

from rich.table import Table

from agnt5_evals.cli.common import Format, cell, console, emit, note
from agnt5_evals.cli.gateway import Gateway
from agnt5_evals.cli.readable import item_block, more
from agnt5_evals.domain.errors import EXIT_GATE_FAILED, EXIT_OK, EXIT_RUN_FAILED, EXIT_TIMEOUT
from agnt5_evals.domain.lazy import LazyModule

if TYPE_CHECKING:
    from agnt5_evals.cli import progress as bars
else:
    bars = LazyModule("agnt5_evals.cli.progress")  # rich's progress bars: only a command that waits draws them


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def show_summary(summary: dict[str, Any], fmt: Format) -> None:
    """Status, pass rate, gate and per-scorer aggregates."""
    if fmt is not Format.table:
        emit(summary, fmt)
        return
    gate = summary["gate"]
    verdict = {True: "PASSED", False: "FAILED"}.get(gate["passed"], f"no verdict ({summary['status']})")
    lines = [
        f"run        {summary['id']}  {summary['name']}",
        f"status     {summary['status']}" + (f" ({summary['reason']})" if summary["reason"] else ""),
        f"items      {summary['done_items']}/{summary['total_items']} done: {summary['passed_items']} passed, "
        f"{summary['failed_items']} failed, {summary['errored_items']} errored",
        f"pass rate  {_pct(summary['pass_rate'])}",
        f"gate       {verdict} (passed_threshold {gate['passed_threshold']}"
        + (f", max_failed_items {gate['max_failed_items']})" if gate.get("max_failed_items") is not None else ")"),
    ]
    lines += gate_lines(gate) if summary["status"] == "completed" else []
    if summary.get("code_digest") or summary.get("build"):
        kind = "build" if summary.get("build") else ("editable" if summary.get("editable") else "snapshot")
        lines.insert(1, f"code       {summary.get('build') or summary['code_digest']} ({kind}, deployment "
                        f"{summary['deployment_id']})")  # fmt: skip
    if "latency_ms" in summary:
        latency = summary["latency_ms"]
        lines.append(
            f"latency    p50 {latency['p50']:.1f} ms, p95 {latency['p95']:.1f} ms, max {latency['max']:.1f} ms"
        )
        lines.append(f"tokens     {summary['total_tokens']}")
    if "repetitions" in summary:
        reps = summary["repetitions"]
        lines.append(f"repeats    k={reps['k']}: pass@k {_pct(reps['pass_at_k'])}, pass^k {_pct(reps['pass_hat_k'])}, "
                     f"{len(reps['flaky_items'])} flaky item(s)")  # fmt: skip
    for rescore in summary.get("replaced_by", []):
        mixed = ": old and new scores are mixed" if rescore["status"] != "completed" else ""
        lines.append(f"rescored   by {rescore['rescore_id']} ({rescore['status']}, {rescore['done_items']}/"
                     f"{rescore['total_items']} items){mixed}")  # fmt: skip
    out = console()
    for line in lines:
        out.print(line)
    table = Table(show_lines=False)
    for column in ("scorer", "mean", "passed", "failed", "errored", "pass rate"):
        table.add_column(column)
    for s in summary["scorers"]:
        table.add_row(s["scorer"], cell(s["mean_score"]), str(s["passed"]), str(s["failed"]), str(s["errored"]),
                      _pct(s["pass_rate"]))  # fmt: skip
    out.print(table)


def show_compare(result: dict[str, Any], fmt: Format) -> None:
    if fmt is not Format.table:
        emit(result, fmt)
        return
    for difference in result.get("comparability", []):
        note(("warning: " if difference["strict"] else "note: ") + difference["message"])
    out = console()
    base, other = result["base"], result["compare"]
    out.print(
        f"base     {result['base_run_id']}  pass rate {_pct(base['pass_rate'])} ({base['passed']}/{base['total']})"
    )
    out.print(f"compare  {result['compare_run_id']}  pass rate {_pct(other['pass_rate'])} "
              f"({other['passed']}/{other['total']})  delta {_pts(result['pass_rate_delta'])}")  # fmt: skip
    out.print(f"paired   {result['paired_items']} item(s): delta {_pts(result['paired_pass_rate_delta'])} "
              f"{_ci(result['pass_rate_ci95'], _pts)}, McNemar p = {result['mcnemar_p_value']:.3g}")  # fmt: skip
    out.print(f"verdict  {result['verdict']} (exact McNemar test of the flips, alpha 0.05)")
    table = Table(title="score movement (95% paired bootstrap intervals)")
    for column in ("scorer", "base mean", "compare mean", "mean delta", "base pass", "compare pass", "pass delta"):
        table.add_column(column)
    for s in result["scorers"]:
        mean = "" if s["delta"] is None else f"{s['delta']:+.3f} {_ci(s['mean_delta_ci95'], _num)}"
        moved = s["pass_rate_delta"]
        passes = "" if moved is None else f"{_pts(moved)} {_ci(s['pass_rate_ci95'], _pts)}"
        table.add_row(s["scorer"], cell(s["base_mean"]), cell(s["compare_mean"]), mean, _pct(s["base_pass_rate"]),
                      _pct(s["compare_pass_rate"]), passes)  # fmt: skip
    out.print(table)
    for key, title in (("newly_failing", "pass -> fail"), ("newly_passing", "fail -> pass")):
        out.print(f"{title}: {result[key + '_count']}")
        for flip in result[key]:
            item_block(f"{flip['dataset_item_id']} (repetition {flip['repetition']})  {flip['base_status']} -> "
                       f"{flip['compare_status']}  run item {flip['compare_run_item_id']}", flip,
                       [("was", flip["base_error"] or flip["base_output"]),
                        ("now", flip["compare_error"] or flip["compare_output"])])  # fmt: skip
        more(len(result[key]), result[key + "_count"], "item(s)")


def _pts(value: float | None) -> str:
    return "" if value is None else f"{value * 100:+.1f} pts"


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:+.3f}"


def _ci(bounds: list[float] | None, show: Callable[[float | None], str]) -> str:
    return "" if bounds is None else f"[{show(bounds[0])}, {show(bounds[1])}]"


def show_rescore(summary: dict[str, Any], fmt: Format) -> None:
    """A rescore: status, counts, per-scorer aggregates of its scores and the items whose status changed."""
    if fmt is not Format.table:
        emit(summary, fmt)
        return
    out = console()
    kind = "replacing the run's scores" if summary["replace_latest"] else "shadow: the run's verdict is unchanged"
    out.print(f"rescore    {summary['id']}  of run {summary['run_id']} ({kind})")
    out.print(f"status     {summary['status']}" + (f" ({summary['failure']})" if summary["failure"] else ""))
    out.print(f"items      {summary['done_items']}/{summary['total_items']} rescored: {summary['passed_items']} "
              f"passed, {summary['failed_items']} failed, {summary['errored_items']} errored")  # fmt: skip
    table = Table()
    for column in ("scorer", "mean", "passed", "errored", "n"):
        table.add_column(column)
    for s in summary["scorers"]:
        table.add_row(s["scorer_key"], cell(s["mean_score"]), str(s["n_passed"]), str(s["n_errored"]), str(s["n"]))
    out.print(table)
    for key, title in (("newly_failing", "pass -> fail"), ("newly_passing", "fail -> pass")):
        out.print(f"{title}: {len(summary[key])}")
        for flip in summary[key]:
            out.print(f"  {flip['dataset_item_id']}  {flip['previous_status']} -> {flip['status']}  "
                      f"(run item {flip['run_item_id']})")  # fmt: skip


def run_exit_code(summary: dict[str, Any], fail_on_gate: bool) -> int:
    if summary["status"] != "completed":
        return EXIT_RUN_FAILED
    if summary["gate"]["passed"] or not fail_on_gate:
        return EXIT_OK
    return EXIT_GATE_FAILED


RULE_MARKS = {True: "pass", False: "FAIL", None: "skipped"}


def gate_lines(gate: dict[str, Any]) -> list[str]:
    """One line per gate rule: pass, FAIL or skipped, and the rule in words with its numbers."""
    return [f"  {RULE_MARKS[rule['passed']]:<8} {rule['message']}" for rule in gate.get("rules", [])]


def gate_failure(summary: dict[str, Any]) -> str:
    """Why a finished run failed its gate: each failed rule with its numbers."""
    gate, rate = summary["gate"], summary["pass_rate"]
    failed = [rule["message"] for rule in gate.get("rules", []) if rule["passed"] is False]
    if failed:
        return "gate failed: " + "; ".join(failed)
    if rate < gate["passed_threshold"]:
        return f"gate failed: pass rate {_pct(rate)} < passed_threshold {gate['passed_threshold']}"
    not_passed = summary["total_items"] - summary["passed_items"]
    return f"gate failed: {not_passed} item(s) failed or errored > max_failed_items {gate['max_failed_items']}"


def wait_and_report(gw: Gateway, run_id: str, timeout: float | None, gate_matters: bool, fmt: Format) -> int:
    """Wait for a run (``timeout`` seconds at most), print its summary, and return the documented exit code."""
    with closing(bars.for_stderr()) as progress:
        summary = gw.wait_for_run(run_id, timeout, progress)
        progress.end(summary)
    if summary is None:
        note(f"timed out waiting for run {run_id}; it keeps running (agnt5 reports wait {run_id})")
        if fmt is not Format.table:
            emit(gw.summary(run_id), fmt)
        return EXIT_TIMEOUT
    show_summary(summary, fmt)
    return explain(summary, run_exit_code(summary, gate_matters))


def explain(summary: dict[str, Any], code: int) -> int:
    """Say on stderr why a finished run gets ``code`` (every failed gate rule, or why the run failed)."""
    if code == EXIT_GATE_FAILED:
        note(gate_failure(summary))
    elif code == EXIT_RUN_FAILED:
        note(f"run {summary['status']}" + (f": {summary['reason']}" if summary["reason"] else ""))
    return code


def wait_for_rescore_and_report(gw: Gateway, rescore_id: str, timeout: float | None, fail_on_gate: bool,
                                fmt: Format) -> int:  # fmt: skip
    """Wait for a rescore, print it, and return the exit code (a replacing rescore: the run's gate)."""
    with closing(bars.for_stderr()) as progress:
        summary = gw.wait_for_rescore(rescore_id, timeout, progress)
        progress.end(summary)
    if summary is None:
        note(f"timed out waiting for rescore {rescore_id}; it keeps running")
        return EXIT_TIMEOUT
    show_rescore(summary, fmt)
    if summary["status"] != "completed":
        note(f"rescore {summary['status']}" + (f": {summary['failure']}" if summary["failure"] else ""))
        return EXIT_RUN_FAILED
    if not summary["replace_latest"]:
        return EXIT_OK
    run = gw.summary(summary["run_id"], detail=False)
    code = run_exit_code(run, fail_on_gate)
    note(f"run {run['id']}: pass rate {_pct(run['pass_rate'])}, gate {'passed' if run['gate']['passed'] else 'failed'}")
    return code
