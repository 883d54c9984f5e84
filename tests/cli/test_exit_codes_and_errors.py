"""Every documented exit code, and bad input: one clear line, exit 1, nothing written to the log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agnt5_evals.services import operations
from tests.cli.conftest import data, log_head, out
from tests.support import release, wait_until

FREE_ITEMS = 3  # the slow experiment's first items run at once; the others wait for the test to release them


@pytest.fixture
def released(tmp_path: Path) -> Path:
    """The file whose creation lets the held items of ``slow`` go on."""
    return tmp_path / "release"


@pytest.fixture
def slow(agnt5, page, released):
    """An experiment over 12 items, one at a time: the first 3 run at once, the others are held until released."""
    ds = out(agnt5("datasets", "create", "--name", "slow"))
    inputs = [{"sleep": 0.01, **({"hold": str(released)} if n >= FREE_ITEMS else {})} for n in range(12)]
    agnt5("datasets", "upload", ds, input="\n".join(json.dumps({"input": i}) for i in inputs))
    version = out(agnt5("datasets", "publish", ds))
    return out(agnt5("experiments", "create", "--name", "slow", "--dataset-id", ds, "--dataset-version-id", version,
                     "--deployment-id", page["good"], "--component-name", "slow", "--component-type", "function",
                     "--builtin-scorer", "json_valid", "--config", '{"concurrency": 1}'))  # fmt: skip


def done_items(agnt5, run_id: str) -> int:
    return int(data(agnt5("experiments", "runs", "show", run_id, "--format", "json"))["done_items"])


def test_wait_timeout_exits_4_and_the_run_keeps_going(agnt5, slow, released):
    result = agnt5("experiments", "run", slow, "--wait", "--timeout", "1s", "--format", "json", code=4)
    run_id = data(result)["id"]
    assert "timed out" in result.stderr
    agnt5("reports", "ci", run_id, code=4)  # no verdict while it runs
    release(released)
    assert data(agnt5("reports", "wait", run_id, "--timeout", "2m", "--format", "json"))["status"] == "completed"


def test_cancel_keeps_finished_items_and_wait_exits_3(agnt5, slow, released, isolated_home):
    run_id = out(agnt5("experiments", "run", slow))
    wait_until(lambda: done_items(agnt5, run_id) == FREE_ITEMS, message="the free items were not recorded")
    cancelled = data(agnt5("experiments", "runs", "cancel", slow, run_id, "--format", "json"))
    assert cancelled["status"] == "cancelled"
    result = agnt5("reports", "wait", run_id, "--format", "json", code=3)
    summary = data(result)
    assert (summary["status"], summary["done_items"]) == ("cancelled", FREE_ITEMS)
    items = data(agnt5("scores", "list", "--run-id", run_id, "--format", "json"))
    assert len(items) == FREE_ITEMS  # one json_valid score per recorded item, none lost or doubled
    log = isolated_home / "logs" / f"run-{run_id}.log"
    # The worker stops on the cancel while an item is still held: it polls the run, it does not wait for an item.
    wait_until(lambda: log.exists() and "dispatch ended, cancelled" in log.read_text(), message="worker went on")
    release(released)
    wait_until(lambda: operations._workers[run_id].poll() is not None, message="the worker did not exit")
    assert done_items(agnt5, run_id) == FREE_ITEMS  # the held item, finished after the cancel, is not recorded
    agnt5("reports", "ci", run_id, code=3)
    agnt5("experiments", "runs", "cancel", slow, run_id, code=1)  # already cancelled


@pytest.mark.local_only  # an editable deployment runs this machine's live files
def test_failed_run_exits_3_with_the_reason(agnt5, page, agent_dir):
    live = out(agnt5("deployments", "create", "--name", "live", "--module", "regressed_agent", "--path",
                     str(agent_dir), "--editable"))  # fmt: skip
    (agent_dir / "regressed_agent.py").unlink()  # the editable deployment's code is gone at run time
    result = agnt5("experiments", "run", page["experiment"], "--deployment-id", live, "--wait",
                   "--format", "json", code=3)  # fmt: skip
    summary = data(result)
    assert summary["status"] == "failed" and "regressed_agent" in summary["reason"]


def test_component_exception_is_an_errored_item_and_the_run_goes_on(agnt5, page):
    ds = out(agnt5("datasets", "create", "--name", "mixed"))
    agnt5("datasets", "upload", ds, input='{"input": {"order_id": 1}}\n{"input": {"order_id": 2, "explode": true}}\n')
    version = out(agnt5("datasets", "publish", ds))
    exp = out(agnt5("experiments", "create", "--name", "mixed", "--dataset-id", ds, "--dataset-version-id", version,
                    "--deployment-id", page["good"], "--component-name", "support_agent", "--component-type",
                    "agent", "--builtin-scorer", "json_valid", "--config", '{"passed_threshold": 0.5}'))  # fmt: skip
    summary = data(agnt5("experiments", "run", exp, "--wait", "--format", "json"))
    assert (summary["passed_items"], summary["errored_items"], summary["gate"]["passed"]) == (1, 1, True)
    failures = data(agnt5("reports", "failures", summary["id"], "--format", "json"))
    assert failures[0]["status"] == "errored" and failures[0]["error"] == "RuntimeError: boom"


def create_args(page, *extra: str) -> list[str]:
    base = ["experiments", "create", "--name", "x", "--dataset-id", page["dataset"], "--dataset-version-id",
            page["version"], "--deployment-id", page["good"], "--component-name", "support_agent",
            "--component-type", "agent"]  # fmt: skip
    return base + list(extra)


MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--builtin-scorer", "no_such_scorer"], "unknown scorer 'no_such_scorer'"),
        (["--builtin-scorer", '{"name":"contains"'], "--builtin-scorer: malformed JSON"),
        (["--builtin-scorer", "json_valid", "--config", "{oops"], "--config: malformed JSON"),
        (["--builtin-scorer", "json_valid", "--config", "[1]"], "--config: must be a JSON object"),
        (["--builtin-scorer", "json_valid", "--config", '{"passed_threshold": 2}'], "passed_threshold"),
        (["--builtin-scorer", "contains"], "contains needs config"),
        (["--builtin-scorer", "regex_match"], "regex_match needs config"),
        (["--builtin-scorer", "tool_called"], "tool_called needs config"),
        ([], "attach at least one scorer"),
        (["--builtin-scorer", "json_valid", "--scorer-id", MISSING], f"scorer {MISSING} not found"),
    ],
)
def test_bad_experiment_input_exits_1_and_writes_nothing(agnt5, page, extra, message):
    before = log_head()
    result = agnt5(*create_args(page, *extra), code=1)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert log_head() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["experiments", "run", MISSING], f"experiment {MISSING} not found"),
        (["experiments", "run", "not-a-uuid"], "EXPERIMENT_ID: no experiment 'not-a-uuid' in this project"),
        (["experiments", "runs", "show", MISSING], f"run {MISSING} not found"),
        (["reports", "ci", MISSING], f"run {MISSING} not found"),
        (["reports", "wait", MISSING], f"run {MISSING} not found"),
        (["scores", "evidence", MISSING], f"score {MISSING} not found"),
        (["datasets", "publish", MISSING], f"dataset {MISSING} not found"),
        (["datasets", "add-example", MISSING, "--input", "1"], f"dataset {MISSING} not found"),
    ],
)
def test_unknown_ids_exit_1_with_one_line(agnt5, page, args, message):
    before = log_head()
    result = agnt5(*args, code=1)
    assert result.stderr.strip().splitlines() == [f"error: {message}"]
    assert log_head() == before


def test_unknown_dataset_deployment_and_component_are_named(agnt5, page):
    before = log_head()
    args = create_args(page, "--builtin-scorer", "json_valid")
    for flag, value, message in [
        ("--dataset-id", MISSING, f"dataset {MISSING} not found"),
        ("--dataset-version-id", MISSING, f"dataset version {MISSING} not found"),
        ("--deployment-id", MISSING, f"deployment {MISSING} not found"),
        ("--component-name", "nope", "--component-name: deployment"),
        ("--component-type", "workflow", "--component-type: component 'support_agent'"),
    ]:
        changed = list(args)
        changed[changed.index(flag) + 1] = value
        assert message in agnt5(*changed, code=1).stderr
    assert log_head() == before


def test_publishing_an_empty_draft_is_rejected(agnt5, store):
    ds = out(agnt5("datasets", "create", "--name", "empty"))
    before = log_head()
    result = agnt5("datasets", "publish", ds, code=1)
    assert result.stderr.strip() == f"error: dataset {ds}: the draft is empty; add items before publishing"
    assert log_head() == before


def test_bad_uploads_write_nothing(agnt5, store):
    ds = out(agnt5("datasets", "create", "--name", "bad"))
    before = log_head()
    assert "line 2: malformed JSON" in agnt5("datasets", "upload", ds, input='{"input": 1}\n{oops\n', code=1).stderr
    no_input = '{"input": 1}\n{"expected_output": 1}\n'
    assert "item 2: field 'input' is required" in agnt5("datasets", "upload", ds, input=no_input, code=1).stderr
    assert "--input: malformed JSON" in agnt5("datasets", "add-example", ds, "--input", "{x", code=1).stderr
    assert log_head() == before


def test_usage_errors_exit_1(agnt5, store):
    assert agnt5("datasets", "create", code=1).exit_code == 1  # missing --name
    assert "No such option" in agnt5("experiments", "run", MISSING, "--bogus", code=1).stderr
    assert "--timeout" in agnt5("reports", "wait", MISSING, "--timeout", "soon", code=1).stderr


def test_an_unreachable_store_is_one_line_exit_1(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from agnt5_evals.cli.main import app

    monkeypatch.setenv("AGNT5_PG_CONNECT_TIMEOUT_S", "1")
    monkeypatch.setenv("AGNT5_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/agnt5_no_such_database")
    result = CliRunner().invoke(app, ["datasets", "list"], prog_name="agnt5")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: AGNT5_DATABASE_URL: cannot connect to postgres@127.0.0.1:5432/agnt5_no_such_database: connection "
        'failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  database '
        '"agnt5_no_such_database" does not exist'
    ]
    monkeypatch.delenv("AGNT5_DATABASE_URL")
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("AGNT5_HOME", str(tmp_path / "a-file"))
    result = CliRunner().invoke(app, ["datasets", "list"], prog_name="agnt5")
    assert result.exit_code == 1 and result.stderr.startswith(f"error: AGNT5_HOME: cannot open the store in {tmp_path}")


def test_a_file_that_is_not_utf8_and_a_negative_timeout_are_input_errors(agnt5, store, tmp_path):
    ds = out(agnt5("datasets", "create", "--name", "bytes"))
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(b"\xff\xfe\n")
    assert agnt5("datasets", "upload", ds, "--file", str(binary), code=1).stderr.strip() == (
        f"error: --file: {binary} is not UTF-8 text (byte 0)"
    )
    assert "--timeout: '-5' must be a positive duration" in agnt5("reports", "wait", MISSING, "--timeout", "-5",
                                                                   code=1).stderr  # fmt: skip
