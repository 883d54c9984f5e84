"""`agnt5 reports export`: every format of a real run, read back by its parser; the same bytes through a server
as on this machine; clean refusals of bad options and output paths, which leave no file behind."""

from __future__ import annotations

import csv
import io
import json
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from agnt5_evals.domain.reports import EXPORT_COLUMNS
from tests.cli.conftest import Agnt5, data, on_the_server, out

pytestmark = pytest.mark.both_modes

MODULE = """
from agnt5_evals import component, scorer


@component("echo", type="function")
def echo(input):
    if input.get("boom"):
        raise RuntimeError("kaboom")
    return input["text"] if {fixed!r} is None else {fixed!r}


@scorer("says_ok")
def says_ok(request):
    ok = "ok" in request["output"]
    return {{"score": float(ok), "passed": ok, "label": "ok" if ok else "missing", "explanation": "looked for ok"}}
"""
TEXTS = ["ok fine", '=HYPERLINK("http://evil")', "<script>window.pwned = 1</script> & ]]> \x01 | `tick`", "kaboom"]


@pytest.fixture
def runs(agnt5: Agnt5, tmp_path: Path) -> dict[str, str]:
    """A run over four items (passed, failed twice, errored), and a baseline run where every item said ok."""
    root = tmp_path / "echo"
    root.mkdir()
    (root / "echo.py").write_text(textwrap.dedent(MODULE.format(fixed=None)))
    (root / "always_ok.py").write_text(textwrap.dedent(MODULE.format(fixed="ok")))
    deployment = out(agnt5("deployments", "create", "--name", "echo", "--module", "echo", "--path", str(root)))
    good = out(agnt5("deployments", "create", "--name", "good", "--module", "always_ok", "--path", str(root)))
    scorer = out(agnt5("scorers", "create", "--name", "says_ok", "--deployment-id", deployment,
                       "--component-name", "says_ok"))  # fmt: skip
    ds = out(agnt5("datasets", "create", "--name", "echoes"))
    lines = [{"input": {"text": t, "boom": t == "kaboom"}, "expected_output": {"k": "-1"}} for t in TEXTS]
    agnt5("datasets", "upload", ds, input="\n".join(json.dumps(line) for line in lines))
    version = out(agnt5("datasets", "publish", ds, "--description", "four"))
    exp = out(agnt5("experiments", "create", "--name", "echo-quality", "--dataset-id", ds, "--dataset-version-id",
                    version, "--deployment-id", deployment, "--component-name", "echo", "--component-type",
                    "function", "--scorer-id", scorer, "--config", '{"passed_threshold": 0, "retries": 0}',
                    ))  # fmt: skip
    base = data(agnt5("experiments", "run", exp, "--deployment-id", good, "--name", "base", "--wait", "--format",
                      "json"))["id"]  # fmt: skip
    run = data(agnt5("experiments", "run", exp, "--name", "cand", "--wait", "--format", "json"))
    assert (run["passed_items"], run["failed_items"], run["errored_items"]) == (1, 2, 1)
    return {"run": run["id"], "base": base}


def export(agnt5: Agnt5, run_id: str, *options: str, code: int = 0) -> bytes:
    result = agnt5("reports", "export", run_id, *options, code=code)
    return bytes(result.stdout_bytes)


def test_csv_json_and_jsonl_tell_the_same_items(agnt5, runs, tmp_path):
    path = tmp_path / "eval-results.csv"
    agnt5("reports", "export", runs["run"], "--artifact-format", "csv", "-o", str(path))
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert [r["status"] for r in rows] == ["passed", "failed", "failed", "errored"]
    assert list(rows[0])[-4:] == ["says_ok.score", "says_ok.passed", "says_ok.label", "says_ok.explanation"]
    assert rows[1]["output"] == "'" + TEXTS[1] and json.loads(rows[0]["input"]) == {"text": "ok fine", "boom": False}
    assert rows[3]["error"] == "RuntimeError: kaboom" and rows[0]["expected_output"] == '{"k":"-1"}'
    lines = [json.loads(line) for line in export(agnt5, runs["run"], "--artifact-format", "jsonl").splitlines()]
    assert lines == json.loads(export(agnt5, runs["run"], "--artifact-format", "json"))
    assert lines[2]["output"] == TEXTS[2] and lines[1]["says_ok.passed"] is False and lines[0]["tokens"] == 0
    scores = list(csv.DictReader(io.StringIO(export(agnt5, runs["run"], "--layout", "scores").decode())))
    assert list(scores[0]) == EXPORT_COLUMNS and len(scores) == 4


def test_junit_and_markdown_against_the_baseline(agnt5, runs):
    suite = ET.fromstring(export(agnt5, runs["run"], "--artifact-format", "junit")).find("testsuite")
    assert (suite.get("name"), suite.get("tests"), suite.get("failures"), suite.get("errors")) == (
        "echo-quality/cand", "4", "2", "1")  # fmt: skip
    assert "Traceback" in suite.findall("testcase")[3].find("error").text
    assert "<script>window.pwned" in suite.findall("testcase")[2].find("failure").text
    text = export(agnt5, runs["run"], "--artifact-format", "markdown", "--baseline", runs["base"]).decode()
    assert text.startswith("## PASSED: echo-quality / cand\n")  # the gate asks for a pass rate of 0
    assert f"### Against baseline `{runs['base']}`" in text and "Pass rate 75.0% \u2192 25.0% (-50.0 pp)" in text
    assert "#### Newly failing (2)" in text and "&lt;script&gt;" in text and "<script>" not in text


def test_the_server_makes_the_same_bytes_as_this_machine(agnt5, runs):
    options = [("csv",), ("jsonl",), ("json",), ("junit",), ("html",), ("markdown", "--baseline", runs["base"])]
    for fmt, *more in options:
        through = export(agnt5, runs["run"], "--artifact-format", fmt, *more)
        with on_the_server():
            assert export(agnt5, runs["run"], "--artifact-format", fmt, *more) == through, fmt


def test_bad_options_and_paths_are_one_line_naming_the_option_and_write_nothing(agnt5, runs, tmp_path):
    run, folder = runs["run"], tmp_path / "out"
    folder.mkdir()
    (folder / "r.md").write_text("the last report")
    refusals = {
        ("--artifact-format", "xlsx"): "--artifact-format: must be one of csv, jsonl, json, junit, markdown, html",
        ("--layout", "rows"): "--layout: must be one of items, scores",
        ("--artifact-format", "html", "--layout", "scores"): "--layout: the scores layout applies to csv",
        ("--baseline", runs["base"]): "--baseline: a baseline is shown by the markdown format only",
        ("--artifact-format", "markdown", "--baseline", "nope"): "--baseline: no run 'nope' in this project",
        ("-o", str(folder / "missing" / "x.csv")): f"--out-file: cannot write {folder}/missing/x.csv: folder",
        ("-o", str(folder)): f"--out-file: {folder} is a folder",
    }
    for options, message in refusals.items():
        result = agnt5("reports", "export", run, *options, code=1)
        assert result.stderr.startswith("error: " + message) and len(result.stderr.splitlines()) == 1, result.stderr
    missing = "00000000-0000-4000-8000-000000000000"
    result = agnt5("reports", "export", run, "--artifact-format", "markdown", "--baseline", missing,
                   "-o", str(folder / "r.md"), code=1)  # fmt: skip
    assert result.stderr.startswith(f"error: --baseline: run {missing} not found")
    assert [p.name for p in folder.iterdir()] == ["r.md"] and (folder / "r.md").read_text() == "the last report"


def test_a_streamed_file_that_fails_midway_leaves_the_old_file_and_no_part(tmp_path):
    """``write_file`` writes a streamed export as it comes, into a temporary file renamed at the end: a stream that
    breaks (the server went away) leaves the file that was there, and no temporary file."""
    from agnt5_evals.cli.common import write_file
    from agnt5_evals.domain.errors import Unavailable

    target = tmp_path / "r.csv"
    target.write_text("the last export")

    def pieces():
        yield b"a,b\r\n"
        raise Unavailable("the server stopped sending the export")

    with pytest.raises(Unavailable):
        write_file(str(target), pieces())
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"] and target.read_text() == "the last export"
    write_file(str(target), iter([b"a,b\r\n", b"1,2\r\n"]))
    assert target.read_bytes() == b"a,b\r\n1,2\r\n"
