"""Reads never write: queries answer from the read model as it is; the writers keep it current."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

import psycopg
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from agnt5_evals.adapters.bootstrap import Services, Settings
from agnt5_evals.api.main import create_app
from agnt5_evals.cli.main import app as cli
from agnt5_evals.domain.application import EvalsApplication
from agnt5_evals.domain.runs import Run
from agnt5_evals.projections import catchup, queries
from agnt5_evals.projections.schema import TABLES, VIEW_NAME
from tests.support import definition, execute, wait_until

Cli = Callable[..., Any]


@pytest.fixture
def agnt5(store: str) -> Cli:
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, code: int = 0) -> Any:
        result = runner.invoke(cli, list(args), input=input, prog_name="agnt5")
        assert result.exit_code == code, f"exit {result.exit_code}: {result.stdout}\n{result.stderr}"
        return result

    return invoke


def names(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(row["name"] for row in rows)


def api_without_lifespan(services: Services) -> TestClient:
    """The API's routes over ``services``, without the server's background catch-up (no lifespan)."""
    api = create_app(services.settings)
    api.state.services = services
    return TestClient(api)


def test_queries_answer_from_the_view_as_it_is_and_leave_its_position(services: Services, agnt5: Cli) -> None:
    services.app.create_dataset("seen")
    services.app.written_listeners.clear()  # like a writer killed before it caught up: a backlog
    services.app.create_dataset("backlog")
    head, view = services.lag()
    assert head > view

    assert names(json.loads(agnt5("datasets", "list", "--format", "json").stdout)) == ["seen"]
    assert names(api_without_lifespan(services).get("/api/v1/datasets").json()) == ["seen"]
    status = json.loads(agnt5("projections", "status", "--format", "json").stdout)
    assert (status["log_position"], status["view_position"], status["lag"]) == (head, view, head - view)
    assert services.lag() == (head, view)  # no read moved the view

    agnt5("projections", "catch-up")  # what clears a backlog: a writer's catch-up
    assert names(json.loads(agnt5("datasets", "list", "--format", "json").stdout)) == ["backlog", "seen"]


def test_an_event_the_handlers_reject_breaks_no_read_and_no_write(
    services: Services, agnt5: Cli, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    handle = catchup.operations

    def poisoned(event: Any) -> Any:
        if getattr(event, "name", "") == "poison":
            raise ValueError("this handler cannot take a dataset named poison")
        return handle(event)

    monkeypatch.setattr(catchup, "operations", poisoned)
    services.app.create_dataset("fine")
    written = services.app.create_dataset("poison")  # saved; only its projection fails (and is logged)
    assert "cannot take a dataset named poison" in capsys.readouterr().err
    services.app.create_dataset("after")  # later writes are saved too
    assert services.lag()[1] < written.position

    assert names(json.loads(agnt5("datasets", "list", "--format", "json").stdout)) == ["fine"]
    assert names(api_without_lifespan(services).get("/api/v1/datasets").json()) == ["fine"]
    failed = agnt5("datasets", "create", "--name", "read-back", code=1)  # saved, but it cannot be shown
    assert failed.stderr.strip().splitlines()[-1].endswith("cannot take a dataset named poison")
    assert "Traceback" not in failed.stderr

    monkeypatch.setattr(catchup, "operations", handle)  # the handler fixed: the next catch-up applies everything
    agnt5("projections", "catch-up")
    listed = names(json.loads(agnt5("datasets", "list", "--format", "json").stdout))
    assert listed == ["after", "fine", "poison", "read-back"]


@contextmanager
def write_locked(settings: Settings) -> Iterator[None]:
    """SQLite: another connection holds the write lock of the log and of the read model meanwhile."""
    connections = []
    for name in ("events.db", f"views-{VIEW_NAME}.db"):
        conn = sqlite3.connect(settings.home / name, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        connections.append(conn)
    try:
        yield
    finally:
        for conn in connections:
            conn.execute("ROLLBACK")
            conn.close()


@contextmanager
def read_only_role(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """PostgreSQL: the commands connect as a role that may only read the schema (and whose transactions are
    read-only)."""
    url = urlparse(settings.database_url)
    schema = url.query.removeprefix("schema=")
    role = f"ro_{uuid.uuid4().hex[:12]}"
    admin = settings.database_url.split("?")[0]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(f'ALTER ROLE "{role}" SET default_transaction_read_only = on')
        conn.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"')
        conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"')
    monkeypatch.setenv("AGNT5_DATABASE_URL", url._replace(netloc=f"{role}@{url.hostname}:{url.port or 5432}").geturl())
    try:
        yield
    finally:
        monkeypatch.setenv("AGNT5_DATABASE_URL", settings.database_url)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE "{role}"')


def test_the_main_queries_need_no_write_access(
    services: Services, world: dict[str, Any], agnt5: Cli, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = services.app
    experiment = app.create_experiment("exp", "", definition(world["dataset"], world["version"], world["bad"]))
    run_id = app.start_run(experiment.id).id
    assert execute(services, run_id) == "completed"
    app.written_listeners.clear()
    app.create_dataset("backlog")  # a read that caught up would have something to write
    settings = services.settings
    services.close()  # nothing of this test's own holds the stores open meanwhile
    monkeypatch.setenv("SQLITE_LOCK_TIMEOUT", "1")  # a write would fail with "database is locked"
    with write_locked(settings) if store == "sqlite" else read_only_role(settings, monkeypatch):
        runs = json.loads(agnt5("experiments", "runs", "list", str(experiment.id), "--format", "json").stdout)
        shown = json.loads(agnt5("experiments", "runs", "show", str(run_id), "--format", "json").stdout)
        failures = json.loads(agnt5("reports", "failures", str(run_id), "--format", "json").stdout)
        scores = json.loads(agnt5("scores", "list", "--run-id", str(run_id), "--format", "json").stdout)
        agnt5("projections", "status")
    assert [r["id"] for r in runs] == [str(run_id)]
    assert (shown["status"], shown["passed_items"], shown["failed_items"]) == ("completed", 5, 5)
    assert len(failures) == 5 and len(scores) == 10


def test_the_server_catches_up_in_the_background(store: str) -> None:
    settings = Settings.from_env()
    with TestClient(create_app(settings)) as client:
        services: Services = client.app.state.services  # type: ignore[attr-defined]
        assert services.background is not None and services.background.is_alive()
        other = EvalsApplication(env=settings.persistence_env())  # another process's writes (a worker's)
        try:
            other.create_dataset("from-elsewhere")
        finally:
            other.close()
        seen = lambda: names(client.get("/api/v1/datasets").json()) == ["from-elsewhere"]  # noqa: E731
        wait_until(seen, message="the server never saw another process's write")
    assert not services.background.is_alive()  # stopped with the server


def test_read_your_writes_on_the_product_page(services: Services, agnt5: Cli, agent_dir: Any) -> None:
    ds = agnt5("datasets", "create", "--name", "support-cases").stdout.strip()
    assert [d["id"] for d in json.loads(agnt5("datasets", "list", "--format", "json").stdout)] == [ds]
    agnt5("datasets", "upload", ds, input="\n".join(json.dumps({"input": {"order_id": n}}) for n in range(1, 4)))
    version = agnt5("datasets", "publish", ds).stdout.strip()
    good = agnt5("deployments", "create", "--name", "good", "--module", "good_agent", "--path", str(agent_dir))
    experiment = agnt5(
        "experiments", "create", "--name", "quality", "--dataset-id", ds, "--dataset-version-id", version,
        "--target-type", "component", "--deployment-id", good.stdout.strip(), "--component-name", "support_agent",
        "--component-type", "agent", "--builtin-scorer", "json_valid",
    ).stdout.strip()  # fmt: skip
    run_id = agnt5("experiments", "run", experiment).stdout.strip()  # no --wait: the worker runs on its own
    listed = json.loads(agnt5("experiments", "runs", "list", experiment, "--format", "json").stdout)
    assert [r["id"] for r in listed] == [run_id]  # the CLI caught up the start it recorded
    waited = json.loads(agnt5("reports", "wait", run_id, "--timeout", "2m", "--format", "json").stdout)
    assert waited["status"] == "completed" and waited["done_items"] == 3  # the worker's chunks reached the view

    client = api_without_lifespan(services)  # no background catch-up: the request's command catches up itself
    created = client.post("/api/v1/datasets", json={"name": "from-the-api"})
    assert created.status_code == 201 and created.json()["name"] == "from-the-api"
    assert names(client.get("/api/v1/datasets").json()) == ["from-the-api", "support-cases"]


def every_row(services: Services) -> dict[str, list[Any]]:
    view = services.view
    return {
        table: sorted(json.dumps(row, sort_keys=True, default=str) for row in view.query(f"SELECT * FROM {{p}}{table}"))
        for table in TABLES
    }


def test_a_writer_projects_its_own_events_as_the_log_would(services: Services, world: dict[str, Any]) -> None:
    """A writer projects the events it has just saved from memory (no read of the log): the rows must be the ones
    a rebuild from the log gives."""
    app = services.app
    spec = definition(world["dataset"], world["version"], world["bad"], "json_valid", repetitions=2)
    experiment = app.create_experiment("exp", "", spec)
    run_id = app.start_run(experiment.id).id
    read = 0
    select = app.recorder.select_notifications

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal read
        found = select(*args, **kwargs)
        read += len(found)
        return found

    app.recorder.select_notifications = counted  # type: ignore[method-assign]
    assert execute(services, run_id, chunk_items=3) == "completed"
    chunks = app.get(Run, run_id, "run").chunks
    assert chunks >= 7 and read <= chunks + 1  # one notification checked per chunk; its 20 items never read back
    app.recorder.select_notifications = select  # type: ignore[method-assign]
    run_item = queries.run_items(services.view, str(run_id))[0]["id"]
    app.annotate(run_id, run_item, "helpful", label="pass", score=1.0, metadata={"k": [1, 2]})
    rescore = app.start_rescore(run_id, [{"name": "json_valid", "key": "json_valid", "config": {}}], [], 20,
                                replace_latest=True)  # fmt: skip
    assert services.lag()[0] == services.lag()[1]
    projected = every_row(services)
    assert projected["run_items"] and projected["annotations"] and projected["rescores"]
    services.rebuild()
    assert every_row(services) == projected
    assert queries.rescore(services.view, str(rescore.id))["status"] == "running"
