"""`runs show` and `reports ci` read the read model alone (``adapters.reads``; issue 16: an instant CLI): they import
nothing of the write side, answer byte for byte as the full path (``bootstrap.Services``) does, lagging read model
and unbuilt view included, and a store without tables still takes the full path."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any
from uuid import UUID

import pytest
from typer.testing import CliRunner

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.adapters.reads import APPLICATION
from agnt5_evals.cli import experiments, reports
from agnt5_evals.cli.gateway import gateway
from agnt5_evals.cli.main import app as cli
from agnt5_evals.domain.application import EvalsApplication
from agnt5_evals.domain.errors import EXIT_TIMEOUT
from agnt5_evals.services import gates
from tests.support import definition, execute

WRITE_SIDE = ("agnt5_evals.domain.application", "eventsourcing.application", "agnt5_evals.adapters.bootstrap",
              "agnt5_evals.domain.runs", "agnt5_evals.services.operations", "agnt5_evals.worker.standby")  # fmt: skip
PROBE = """
import sys
from agnt5_evals.cli.main import app
for args in ({commands}):
    try:
        app(args, prog_name="agnt5")
    except SystemExit:
        pass
print("LOADED", [name for name in {heavy!r} if name in sys.modules])
"""
Result = tuple[int, str, str]


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), prog_name="agnt5")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def both_paths(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[Result, Result]:
    """The command's exit code, stdout and stderr on the read path, then on the full path (as before it)."""
    light = run(*args)
    with monkeypatch.context() as full:
        full.setattr(experiments, "read_gateway", gateway)
        full.setattr(reports, "read_gateway", gateway)
        heavy = run(*args)
    return light, heavy


def commands(run_id: str) -> list[tuple[str, ...]]:
    return [(*command, run_id, "--format", fmt) for command in (("experiments", "runs", "show"), ("reports", "ci"))
            for fmt in ("table", "json")]  # fmt: skip


def completed_run(services: Services, world: dict[str, Any]) -> str:
    experiment = services.app.create_experiment("exp", "", definition(world["dataset"], world["version"],
                                                                      world["bad"]))  # fmt: skip
    run_id = services.app.start_run(experiment.id).id
    assert execute(services, run_id) == "completed"
    return str(run_id)


def test_the_read_commands_import_nothing_of_the_write_side(services: Services, world: dict[str, Any]) -> None:
    run_id = completed_run(services, world)
    probe = PROBE.format(commands=", ".join(repr(list(c)) for c in commands(run_id)), heavy=WRITE_SIDE)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "LOADED []" in done.stdout, done.stdout[-500:]
    assert '"status": "completed"' in done.stdout  # the commands did answer (JSON), and the gate was printed
    assert "gate       FAILED" in done.stdout


def test_the_answers_and_exit_codes_are_those_of_the_full_path(
    services: Services, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = completed_run(services, world)
    for args in [*commands(run_id), ("reports", "ci", "no-such-run"), ("experiments", "runs", "show", "exp")]:
        light, heavy = both_paths(monkeypatch, *args)
        assert light == heavy, args
    shown = json.loads(run("experiments", "runs", "show", run_id, "--format", "json")[1])
    assert (shown["status"], shown["passed_items"], shown["failed_items"]) == ("completed", 5, 5)
    assert run("reports", "ci", run_id)[0] == gates.gate_verdict(services, run_id)["exit_code"] != 0
    assert run("reports", "ci", "no-such-run")[0] == 1


def test_a_read_model_behind_the_log_answers_as_it_is_as_every_read_does(
    services: Services, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reads never write (docs/architecture.md): a lagging view answers with what it holds on both paths, and
    moves only when a writer catches it up."""
    experiment = services.app.create_experiment("exp", "", definition(world["dataset"], world["version"],
                                                                      world["good"]))  # fmt: skip
    run_id = str(services.app.start_run(experiment.id).id)
    other = EvalsApplication(env=services.settings.persistence_env())  # another process, killed before its catch-up
    try:
        other.cancel_run(UUID(run_id))
    finally:
        other.close()
    head, view = services.lag()
    assert head > view
    for args in commands(run_id):
        light, heavy = both_paths(monkeypatch, *args)
        assert light == heavy, args
    assert json.loads(run("experiments", "runs", "show", run_id, "--format", "json")[1])["status"] == "running"
    code, _, err = run("reports", "ci", run_id)
    assert (code, err) == (EXIT_TIMEOUT, "no verdict yet: the run is still running\n")
    assert services.lag() == (head, view)  # no read moved the view

    assert run("projections", "catch-up")[0] == 0  # a writer's catch-up: now the reads see the cancel
    assert json.loads(run("experiments", "runs", "show", run_id, "--format", "json")[1])["status"] == "cancelled"


def test_an_unbuilt_view_is_said_as_before(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    services.view  # noqa: B018 (its tables exist, at position 0)
    services.app.written_listeners.clear()
    services.app.create_dataset("never projected")
    light, heavy = both_paths(monkeypatch, "experiments", "runs", "show", "some-run")
    assert light == heavy
    assert light[0] == 1 and light[2].startswith("note: the read model has not been built from this store's")


def test_a_store_without_tables_takes_the_full_path(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for args in (("experiments", "runs", "show", "some-run"), ("reports", "ci", "some-run")):
        code, stdout, stderr = run(*args)
        assert (code, stdout, stderr) == (1, "", "error: RUN_ID: no run 'some-run' in this project\n")


def test_the_read_path_names_the_log_as_the_application_does(services: Services, store: str) -> None:
    assert services.app.name == APPLICATION
    if store == "postgresql":
        assert getattr(services.app.recorder, "events_table_name", "").endswith(f"{APPLICATION.lower()}_events")
