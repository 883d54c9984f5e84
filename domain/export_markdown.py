"""The Markdown export of a run: a report for a pull-request comment or ``$GITHUB_STEP_SUMMARY``.

A heading with the verdict, the counts, pass rate and gate rules, a per-scorer table and, with a baseline run,
the movement against it (pass-rate delta and the first flips, each with an excerpt of input, expected and output).
Every value a user wrote (names, inputs, outputs, labels) is escaped: HTML and Markdown punctuation are shown as
text and a table cell stays on one line.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

from agnt5_evals.domain.exports import RunExport, excerpt, verdict_word

TOP_FLIPS = 10  # flips listed per direction
EXCERPT = 80  # characters of input, expected and output in a flip's row
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_PUNCTUATION = re.compile(r"([\\`*_\[\]{}()#+!|~])")


def md(value: Any) -> str:
    """A user value as Markdown text: one line without control characters, HTML escaped, Markdown punctuation
    backslash-escaped."""
    text = " ".join(_CONTROL.sub(" ", str(value if value is not None else "")).split())
    return _PUNCTUATION.sub(r"\\\1", html.escape(text, quote=False))


def _pct(rate: Any) -> str:
    return "n/a" if rate is None else f"{float(rate) * 100:.1f}%"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def to_markdown(export: RunExport, comparison: Mapping[str, Any] | None = None) -> bytes:
    """The report; ``comparison`` is ``compare_runs(baseline, this run)`` when a baseline was given."""
    lines = [*_head(export), "", *_scorers(export)]
    if comparison is not None:
        lines += ["", *_movement(export, comparison)]
    return ("\n".join(lines) + "\n").encode()


def _head(export: RunExport) -> list[str]:
    s = export.summary
    gate = s["gate"]
    rules = f"pass rate \u2265 {_pct(gate['passed_threshold'])}"
    if gate.get("max_failed_items") is not None:
        rules += f", at most {gate['max_failed_items']} item(s) not passed"
    checked = [f"- {_MARK[rule['passed']]} {md(rule['message'])}" for rule in gate.get("rules") or []]
    return [
        f"## {verdict_word(s)}: {md(export.experiment_name)} / {md(s['name'])}",
        "",
        f"Run `{s['id']}` ({md(s['status'])}): **{s['done_items']}** of {s['total_items']} items done, "
        f"{s['passed_items']} passed, {s['failed_items']} failed, {s['errored_items']} errored; "
        f"pass rate **{_pct(s['pass_rate'])}**.",
        "",
        f"Gate: {rules}.",
        *(["", *checked] if checked else []),
    ]


_MARK = {True: "pass:", False: "**FAIL:**", None: "skipped:"}


def _scorers(export: RunExport) -> list[str]:
    rows = [_row(["Scorer", "Mean", "Pass rate", "Passed", "Failed", "Errored"]),
            _row(["---", "---:", "---:", "---:", "---:", "---:"])]  # fmt: skip
    for s in export.summary["scorers"]:
        mean = "n/a" if s["mean_score"] is None else f"{s['mean_score']:.3f}"
        rows.append(_row([md(s["scorer"]), mean, _pct(s["pass_rate"]), str(s["passed"]), str(s["failed"]),
                          str(s["errored"])]))  # fmt: skip
    return ["### Scorers", "", *rows] if export.summary["scorers"] else ["### Scorers", "", "No scores yet."]


def _movement(export: RunExport, comparison: Mapping[str, Any]) -> list[str]:
    base, now = comparison["base"], comparison["compare"]
    delta = float(comparison["pass_rate_delta"]) * 100
    lines = [
        f"### Against baseline `{comparison['base_run_id']}`",
        "",
        f"Pass rate {_pct(base['pass_rate'])} \u2192 {_pct(now['pass_rate'])} ({delta:+.1f} pp) over "
        f"{comparison['paired_items']} paired item(s).",
    ]
    if comparison.get("same_dataset_version") is False:
        lines += ["", "Note: the baseline ran another version of the dataset; items are paired by dataset item id."]
    lines += [f"\nNote: {md(warning)}" for warning in comparison.get("warnings") or []]
    if isinstance(comparison.get("verdict"), str):
        lines += ["", f"Verdict: **{md(comparison['verdict'])}**."]
    interval = comparison.get("pass_rate_ci95")
    if isinstance(interval, list | tuple) and len(interval) == 2 and all(isinstance(v, int | float) for v in interval):
        lines += ["", f"95% interval of the pass-rate delta: {interval[0] * 100:+.1f} to {interval[1] * 100:+.1f} pp."]
    by_item = {r["run_item_id"]: r for r in export.records}
    for key, title in (("newly_failing", "Newly failing"), ("newly_passing", "Newly passing")):
        lines += ["", *_flips(title, comparison.get(key) or [], by_item)]
    return lines


def _flips(title: str, flips: Sequence[Mapping[str, Any]], by_item: Mapping[str, Mapping[str, Any]]) -> list[str]:
    if not flips:
        return [f"#### {title}: none"]
    shown = f"the first {TOP_FLIPS} of {len(flips)}" if len(flips) > TOP_FLIPS else str(len(flips))
    rows = [f"#### {title} ({shown})", "", _row(["Item", "Was", "Now", "Input", "Expected", "Output"]),
            _row(["---"] * 6)]  # fmt: skip
    for flip in flips[:TOP_FLIPS]:
        record = by_item.get(flip["compare_run_item_id"], {})
        rows.append(_row([
            f"{md(flip['dataset_item_id'])} #{flip['repetition']}", md(flip["base_status"]), md(flip["compare_status"]),
            *(md(excerpt(record.get(key), EXCERPT)) for key in ("input", "expected_output", "output")),
        ]))  # fmt: skip
    return rows
