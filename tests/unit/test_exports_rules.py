"""The export projection and the formats made from it: what each file says about a run, read back by a parser."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

import pytest

from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.export_junit import to_junit
from agnt5_evals.domain.export_markdown import md, to_markdown
from agnt5_evals.domain.exports import (
    ITEM_COLUMNS,
    RunExport,
    check_options,
    csv_cell,
    layout_rows,
    to_csv,
    to_json,
    to_jsonl,
)
from agnt5_evals.domain.reports import EXPORT_COLUMNS
from tests.export_samples import HOSTILE, STACK, sample_export

SCORER_COLUMNS = [f"{key}.{part}" for key in ("says_ok", "long_enough")
                  for part in ("score", "passed", "label", "explanation")]  # fmt: skip


def test_items_layout_has_one_record_per_item_with_its_dataset_values_and_each_scorer_in_order():
    export = sample_export()
    assert export.columns == ITEM_COLUMNS + SCORER_COLUMNS
    first, _, _, errored = export.records
    assert first["input"] == {"q": "say ok"} and first["expected_output"] == "ok" and first["output"] == "ok fine"
    assert (first["says_ok.score"], first["says_ok.passed"], first["says_ok.label"]) == (1.0, True, "ok")
    assert (first["index"], first["run_item_id"], first["dataset_item_id"], first["tokens"]) == (0, "ri0", "d0", 7)
    assert errored["error"] == "RuntimeError: kaboom" and errored["says_ok.score"] is None
    assert export.stacks == {"ri3": STACK}


def test_scores_layout_keeps_one_row_per_item_and_scorer_in_the_old_columns():
    columns, records = layout_rows(sample_export(), "scores")
    assert columns == EXPORT_COLUMNS
    assert len(records) == 2 + 2 + 2 + 1  # an item without scores keeps one row
    assert [r["scorer"] for r in records[:2]] == ["says_ok", "long_enough"]


def test_csv_parses_back_with_json_text_for_values_and_formulas_escaped():
    export = sample_export()
    rows = list(csv.DictReader(io.StringIO(to_csv(export.columns, export.records).decode())))
    assert list(rows[0]) == export.columns and len(rows) == 4
    assert json.loads(rows[0]["input"]) == {"q": "say ok"} and rows[0]["expected_output"] == "ok"
    assert rows[1]["output"] == '\'=HYPERLINK("http://evil")' and rows[1]["input"] == "'+1 formula"
    assert rows[2]["expected_output"] == "'@at" and json.loads(rows[2]["output"]) == {"text": HOSTILE}
    assert rows[3]["error"] == "RuntimeError: kaboom" and rows[3]["says_ok.score"] == "" and rows[3]["output"] == ""
    assert rows[0]["says_ok.passed"] == "True" and rows[0]["duration_ms"] == "100.0"


@pytest.mark.parametrize(("value", "cell"), [("-2", "'-2"), ("\tx", "'\tx"), ("a=b", "a=b"), (-2.5, -2.5),
                                             (None, ""), (False, False), ([1], "[1]")])  # fmt: skip
def test_csv_cells_that_a_spreadsheet_would_evaluate_get_a_quote(value, cell):
    assert csv_cell(value) == cell


def test_jsonl_and_json_hold_full_values_and_agree():
    export = sample_export()
    lines = [json.loads(line) for line in to_jsonl(export.columns, export.records).decode().splitlines()]
    assert lines == json.loads(to_json(export.columns, export.records))
    assert lines[2]["output"] == {"text": HOSTILE} and lines[1]["expected_output"] == {"k": "-1"}
    assert list(lines[0]) == export.columns


def test_junit_counts_failures_and_errors_apart_and_names_each_failing_scorer():
    root = ET.fromstring(to_junit(sample_export()))
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "support-agent/candidate"
    counts = (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("time"))
    assert counts == ("4", "2", "1", "1.000")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["d0#0", "d1#0", "d2#0", "d3#0"]
    assert {c.get("classname") for c in cases} == {"support-agent"} and cases[1].get("time") == "0.200"
    assert cases[0].find("failure") is None and cases[0].find("error") is None
    failure = cases[1].find("failure")
    assert failure.get("type") == "scorers" and failure.get("message") == "says_ok: missing (no ok in it)"
    assert "output: =HYPERLINK" in failure.text and 'expected: {"k":"-1"}' in failure.text
    error = cases[3].find("error")
    assert cases[3].find("failure") is None and error.get("message") == "RuntimeError: kaboom"
    assert error.get("type") == "target" and STACK in error.text


def test_junit_keeps_markup_as_text_and_drops_what_xml_cannot_hold():
    failure = ET.fromstring(to_junit(sample_export())).findall("testsuite/testcase")[2].find("failure")
    safe = HOSTILE.replace("\x01", "").replace("\x1b", "")
    assert f"says_ok: missing ({safe})" in failure.get("message") and "long_enough: short" in failure.get("message")
    assert "<script>window.pwned = 1</script> & ]]>" in failure.text and "\x01" not in failure.text


def _tables(text: str) -> list[list[list[str]]]:
    """The Markdown tables of ``text``: rows of cells (the separator row dropped)."""
    tables, current = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("| "):
            cells = [cell.strip() for cell in line.strip()[1:-1].split(" | ")]
            if not set("".join(cells)) <= set("-: "):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def test_markdown_has_the_verdict_counts_gate_and_scorer_table():
    text = to_markdown(sample_export()).decode()
    lines = text.splitlines()
    assert lines[0] == "## FAILED: support-agent / candidate"
    assert "**4** of 4 items done, 1 passed, 2 failed, 1 errored; pass rate **25.0%**" in text
    assert "Gate: pass rate \u2265 50.0%." in text
    assert "- **FAIL:** pass rate 25.0% &lt; passed\\_threshold 0.5" in lines  # each rule with its numbers
    (scorers,) = _tables(text)
    assert scorers == [["Scorer", "Mean", "Pass rate", "Passed", "Failed", "Errored"],
                       ["says\\_ok", "0.333", "33.3%", "1", "2", "0"],
                       ["long\\_enough", "0.667", "66.7%", "2", "1", "0"]]  # fmt: skip


def test_markdown_against_a_baseline_lists_the_flips_with_escaped_excerpts():
    comparison = {
        "base_run_id": "b1", "paired_items": 4, "base": {"pass_rate": 0.75}, "compare": {"pass_rate": 0.25},
        "pass_rate_delta": -0.5, "verdict": "regressed", "pass_rate_ci95": [-0.8, -0.2],
        "same_dataset_version": False, "warnings": ["runs ran different code <x>"],
        "newly_failing": [{"dataset_item_id": f"d{n}", "repetition": 0, "base_run_item_id": f"b{n}",
                           "compare_run_item_id": f"ri{n}", "base_status": "passed", "compare_status": "failed"}
                          for n in (1, 2)],
        "newly_passing": [],
    }  # fmt: skip
    text = to_markdown(sample_export(), comparison).decode()
    assert "Pass rate 75.0% \u2192 25.0% (-50.0 pp) over 4 paired item(s)." in text
    assert "Verdict: **regressed**." in text and "-80.0 to -20.0 pp" in text
    assert "another version of the dataset" in text and "Note: runs ran different code &lt;x&gt;" in text
    assert "#### Newly failing (2)" in text and "#### Newly passing: none" in text
    _, flips = _tables(text)
    assert flips[0] == ["Item", "Was", "Now", "Input", "Expected", "Output"] and len(flips) == 3
    assert "<script>" not in text and "&lt;script&gt;" in text and "\x1b" not in text
    assert len(flips[2]) == 6  # the pipe and the line break of the value stayed inside their cells
    assert "\\`tick\\`" in flips[2][5] and "\\|" in flips[2][5]


def test_markdown_escapes_pipes_backticks_and_html():
    assert md("a|b `c` <i>\nd") == "a\\|b \\`c\\` &lt;i&gt; d"


def test_a_running_run_says_running():
    export = sample_export()
    running = RunExport(export.experiment_name, {**export.summary, "status": "running", "passed": None},
                        export.scorers, export.records)  # fmt: skip
    assert to_markdown(running).decode().startswith("## RUNNING:")


@pytest.mark.parametrize(("fmt", "layout", "baseline", "field"), [
    ("xlsx", "items", None, "format"), ("csv", "rows", None, "layout"), ("junit", "scores", None, "layout"),
    ("csv", "items", "b1", "baseline"),
])  # fmt: skip
def test_bad_options_are_refused_naming_the_field(fmt, layout, baseline, field):
    with pytest.raises(Invalid) as refused:
        check_options(fmt, layout, baseline)
    assert refused.value.field == field
