"""What a new user tripped on, fixed: help at 80 columns, input checked before anything starts, progress lines in
CI logs, no gate verdict before there is one, one set of run field names, and a readable evidence table."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from agnt5_evals.cli.main import app
from tests.cli.conftest import data, out
from tests.support import release

SUMMARY_ONLY = {"scorers", "latency_ms", "total_tokens", "repetitions", "replaced_by"}


def _commands(command: Any, path: list[str]) -> list[tuple[list[str], Any]]:
    found = [(path, command)]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        found += _commands(sub, [*path, name])
    return found


@pytest.mark.parametrize("how", ["COLUMNS", "terminal_width"])
def test_help_at_80_columns_names_every_option_in_full_and_shows_no_value_for_a_flag(how):
    runner = CliRunner()
    for path, command in _commands(typer.main.get_command(app), []):
        width = {"terminal_width": 80} if how == "terminal_width" else {"env": {"COLUMNS": "80"}}
        result = runner.invoke(app, [*path, "--help"], prog_name="agnt5", **width)
        assert result.exit_code == 0, (path, result.output)
        text = result.stdout
        for param in command.params:
            if param.param_type_name != "option" or param.hidden:
                continue
            for name in [*param.opts, *param.secondary_opts]:
                assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text), f"agnt5 {' '.join(path)}: {name}"
                if param.is_flag:
                    shown = re.search(rf"{re.escape(name)}\s*(<bool>|BOOLEAN|\[true\|false\])", text)
                    assert not shown, f"agnt5 {' '.join(path)}: flag {name} shown taking a value"
        assert "…" not in text, f"agnt5 {' '.join(path)}: something cut at 80 columns"


@pytest.fixture
def held(agnt5, page, tmp_path: Path) -> dict[str, Any]:
    """An experiment over 2 items that wait until ``release`` exists (so a run of it stays running)."""
    gate = tmp_path / "release"
    ds = out(agnt5("datasets", "create", "--name", "held"))
    agnt5("datasets", "upload", ds, input="\n".join(json.dumps({"input": {"sleep": 0, "hold": str(gate)}})
                                                    for _ in range(2)))  # fmt: skip
    version = out(agnt5("datasets", "publish", ds))
    exp = out(agnt5("experiments", "create", "--name", "held", "--dataset-id", ds, "--dataset-version-id", version,
                    "--deployment-id", page["good"], "--component-name", "slow", "--component-type", "function",
                    "--builtin-scorer", "json_valid", "--config", '{"concurrency": 1}'))  # fmt: skip
    return {"experiment": exp, "release": gate, "dataset": ds}


def _runs(agnt5, experiment: str) -> list[dict[str, Any]]:
    return list(data(agnt5("experiments", "runs", "list", experiment, "--format", "json")))


def test_a_bad_timeout_is_refused_before_anything_starts(agnt5, page):
    refused = agnt5("experiments", "run", page["experiment"], "--wait", "--timeout", "15 minutes", code=1)
    assert "--timeout: '15 minutes' is not a duration" in refused.stderr and "90s, 15m, 1h30m" in refused.stderr
    assert _runs(agnt5, page["experiment"]) == []  # nothing started
    run = data(agnt5("experiments", "run", page["experiment"], "--wait", "--timeout", "2m", "--format", "json"))
    assert "--timeout" in agnt5("experiments", "runs", "rerun", run["id"], "--wait", "--timeout", "soon", code=1).stderr
    assert "--timeout" in agnt5("experiments", "runs", "rescore", run["id"], "--wait", "--timeout", "x", code=1).stderr
    assert [r["id"] for r in _runs(agnt5, page["experiment"])] == [run["id"]]  # no rerun started
    assert data(agnt5("experiments", "runs", "rescores", run["id"], "--format", "json")) == []  # nor a rescore
    datasets = data(agnt5("datasets", "list", "--format", "json"))
    agnt5("experiments", "runs", "regression-dataset", run["id"], "--name", "r", "--start-run", "--wait",
          "--timeout", "1 hour", code=1)  # fmt: skip
    assert data(agnt5("datasets", "list", "--format", "json")) == datasets
    assert (
        "--timeout: 'bad' is not a duration" in agnt5("reports", "wait", run["id"], "--timeout", "bad", code=1).stderr
    )


def test_timeout_without_wait_is_refused(agnt5, page):
    refused = agnt5("experiments", "run", page["experiment"], "--timeout", "5m", code=1)
    assert "--timeout: only applies with --wait" in refused.stderr
    assert _runs(agnt5, page["experiment"]) == []
    run = data(agnt5("experiments", "run", page["experiment"], "--wait", "--timeout", "2m", "--format", "json"))
    for command in (["rerun"], ["rescore"], ["regression-dataset", "--name", "r", "--start-run"]):
        refused = agnt5("experiments", "runs", command[0], run["id"], *command[1:], "--timeout", "5m", code=1)
        assert "--timeout: only applies with --wait" in refused.stderr, command
    no_run = agnt5("experiments", "runs", "regression-dataset", run["id"], "--name", "r", "--wait", code=1)
    assert "--wait: only applies with --start-run" in no_run.stderr
    assert len(_runs(agnt5, page["experiment"])) == 1
    assert data(agnt5("experiments", "runs", "rescores", run["id"], "--format", "json")) == []


def test_progress_without_a_terminal_prints_a_start_line_periodic_lines_and_an_end_line(agnt5, page, monkeypatch):
    monkeypatch.setenv("AGNT5_PROGRESS_INTERVAL", "0.05")
    ds = out(agnt5("datasets", "create", "--name", "slowish"))
    agnt5("datasets", "upload", ds, input="\n".join(json.dumps({"input": {"sleep": 0.3}}) for _ in range(3)))
    version = out(agnt5("datasets", "publish", ds))
    exp = out(agnt5("experiments", "create", "--name", "slowish", "--dataset-id", ds, "--dataset-version-id",
                    version, "--deployment-id", page["good"], "--component-name", "slow", "--component-type",
                    "function", "--builtin-scorer", "json_valid", "--config", '{"concurrency": 1}'))  # fmt: skip
    result = agnt5("experiments", "run", exp, "--wait", "--timeout", "2m", "--format", "json")
    lines = result.stderr.splitlines()
    assert any(re.match(r"waiting: \d/3 done: ", line) for line in lines), lines
    assert any(re.match(r"\d/3 done: \d passed, \d failed, \d errored, [\d.]+ items/s, ETA ", line) for line in lines)
    assert any(line.startswith("completed: 3/3 done: 3 passed, 0 failed, 0 errored") for line in lines), lines


def _verdicts(agnt5, held: dict[str, Any], run_id: str) -> list[tuple[Any, Any]]:
    """(gate.passed, passed) as runs show, reports summary and runs list give them."""
    shown = data(agnt5("experiments", "runs", "show", run_id, "--format", "json"))
    summary = data(agnt5("reports", "summary", run_id, "--format", "json"))
    (listed,) = [r for r in _runs(agnt5, held["experiment"]) if r["id"] == run_id]
    return [(row["gate"]["passed"], row["passed"]) for row in (shown, summary, listed)]


def test_a_run_has_no_gate_verdict_until_it_completes(agnt5, held):
    running = out(agnt5("experiments", "run", held["experiment"]))
    assert _verdicts(agnt5, held, running) == [(None, None)] * 3
    assert "gate       no verdict (running)" in agnt5("experiments", "runs", "show", running).stdout
    cancelled = data(agnt5("experiments", "runs", "cancel", held["experiment"], running, "--format", "json"))
    assert cancelled["status"] == "cancelled"
    assert _verdicts(agnt5, held, running) == [(None, False)] * 3  # no verdict; and it did not pass
    release(held["release"])
    done = data(agnt5("experiments", "run", held["experiment"], "--wait", "--timeout", "2m", "--format", "json"))
    assert _verdicts(agnt5, held, done["id"]) == [(True, True)] * 3


def test_runs_list_rows_are_the_summary_fields_with_the_same_names(agnt5, page):
    summary = data(agnt5("experiments", "run", page["experiment"], "--wait", "--timeout", "2m", "--format", "json"))
    (row,) = _runs(agnt5, page["experiment"])
    assert row == {key: value for key, value in summary.items() if key not in SUMMARY_ONLY}
    assert row["pass_rate"] == 1.0 and row["passed_items"] == 6 and row["passed"] is True
    header = agnt5("experiments", "runs", "list", page["experiment"]).stdout
    for name in ("total_items", "done_items", "passed_items", "failed_items", "errored_items", "pass_rate"):
        assert name in header, name


def test_score_evidence_as_a_table(agnt5, page):
    run = data(agnt5("experiments", "run", page["experiment"], "--deployment-id", page["bad"], "--wait",
                     "--timeout", "2m", "--no-fail-on-gate", "--format", "json"))  # fmt: skip
    scores = data(agnt5("scores", "list", "--run-id", run["id"], "--format", "json"))
    failed = next(s for s in scores if s["scorer_key"] == "tool_called" and not s["passed"])
    shown = agnt5("scores", "evidence", failed["id"], "--format", "table").stdout
    with pytest.raises(json.JSONDecodeError):
        json.loads(shown)
    cells = [[cell.strip() for cell in line.split("│")[1:-1]] for line in shown.splitlines() if "│" in line]
    rows = {(row[0], row[1]) for row in cells}
    for part, field in [("scorer_input", "input"), ("scorer_input", "output"), ("scorer_input", "expected_output"),
                        ("scorer_output", "score"), ("scorer_output", "passed"), ("scorer_output", "label"),
                        ("scorer_output", "explanation")]:  # fmt: skip
        assert (part, field) in rows, (part, field, shown)
    assert any(part == "evidence" for part, _ in rows) and "not_called" in shown and "order_id" in shown
