"""`audit verify` on both stores: a run's hash chain, its rescores' and its dataset version's digests, recomputed
from the stored events; an edited payload or a deleted event is named."""

from __future__ import annotations

import contextlib
import gc
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import orjson
import psycopg
import pytest

from agnt5_evals.adapters.bootstrap import Services, Settings
from agnt5_evals.domain import digests
from agnt5_evals.domain.ids import run_chunk_id
from agnt5_evals.domain.runs import Run
from agnt5_evals.services import experiments
from agnt5_evals.services.gcpause import collector_paused
from agnt5_evals.services.verify import verify
from agnt5_evals.worker.rescore import RescoreExecutor
from tests.support import execute


@contextlib.contextmanager
def raw_log(services: Services) -> Iterator[tuple[Callable[..., list[Any]], str]]:
    """SQL on the stored events themselves (what someone with access to the store could do), and the table."""
    settings = Settings.from_env()
    if not settings.database_url:
        conn = sqlite3.connect(settings.home / "events.db", isolation_level=None)
        try:
            yield lambda sql, *args: conn.execute(sql.replace("%s", "?"), args).fetchall(), "stored_events"
        finally:
            conn.close()
        return
    recorder: Any = services.app.recorder
    table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'
    with psycopg.connect(**settings.pg_connect_kwargs(), autocommit=True) as pg:

        def run(sql: str, *args: Any) -> list[Any]:
            cursor = pg.execute(sql, args)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

        yield run, table


def edit(services: Services, topic: str, change: Callable[[dict[str, Any]], None], nth: int = 0,
         of: UUID | None = None) -> tuple[str, int]:  # fmt: skip
    """Edit the payload of the nth stored event of a topic (of one aggregate) in place; its aggregate id and version."""
    with raw_log(services) as (sql, table):
        rows = sql(f"SELECT originator_id, originator_version, state FROM {table} WHERE topic LIKE %s "
                   "ORDER BY originator_id, originator_version", f"%:{topic}")  # fmt: skip
        rows = [row for row in rows if of is None or UUID(str(row[0])) == of]
        originator, version, state = rows[nth]
        payload = orjson.loads(bytes(state))
        change(payload)
        sql(f"UPDATE {table} SET state = %s WHERE originator_id = %s AND originator_version = %s",
            orjson.dumps(payload), originator, version)  # fmt: skip
    return str(UUID(str(originator))), version


def delete(services: Services, originator_id: str, version: int) -> None:
    with raw_log(services) as (sql, table):
        key = originator_id if Settings.from_env().database_url else UUID(originator_id).hex
        sql(f"DELETE FROM {table} WHERE originator_id = %s AND originator_version = %s", key, version)


def finished_run(services: Services, world: dict[str, Any], chunk_items: int = 3) -> UUID:
    target = {"type": "component", "deployment_id": str(world["good"]), "component_name": "support_agent",
              "component_type": "agent"}  # fmt: skip
    row = experiments.create_experiment(services, "exp", "", world["dataset"], world["version"], target,
                                        ["json_valid", "exact_match"], None, {})  # fmt: skip
    run_id = services.app.start_run(UUID(row["id"])).id
    assert execute(services, run_id, chunk_items) == "completed"
    return run_id


def test_a_finished_run_verifies_and_its_completion_digest_is_reported(services: Services, world: dict) -> None:
    run_id = finished_run(services, world)
    report = verify(services, run_id)
    assert report["mismatch"] is None, report["mismatch"]["problem"]
    assert report["ok"] is True and report["unchained"] == []
    assert report["checked"] == {"runs": 1, "dataset_versions": 1, "chunks": 4, "items": 10}
    run = services.app.get(Run, run_id, "run")
    assert report["digests"] == {str(run_id): run.chain} and len(run.chain or "") == 64
    whole = verify(services)
    assert whole["ok"] is True and whole["digests"] == report["digests"]
    assert whole["checked"]["events"] > 10


def test_an_edited_item_output_is_named(services: Services, world: dict) -> None:
    run_id = finished_run(services, world)
    # the second chunk's items ([3, 6)): its second item, at position 4
    originator, version = edit(services, "RunChunk.ItemsRecorded", lambda p: p["items"][1].update(output={"answer": 1}),
                               of=run_chunk_id(run_id, 3))  # fmt: skip
    for report in (verify(services, run_id), verify(services)):
        assert report["ok"] is False
        mismatch = report["mismatch"]
        assert (mismatch["originator_id"], mismatch["originator_version"]) == (originator, version)
        assert mismatch["topic"].endswith("RunChunk.ItemsRecorded") and mismatch["position"] > 0
        assert mismatch["problem"] == "its item 1 (position 4) does not match the digest recorded when it was saved"


def test_an_edited_count_an_edited_spec_and_an_edited_completion_are_named(services: Services, world: dict) -> None:
    counted, specified, completed = (finished_run(services, world) for _ in range(3))
    edit(services, "Run.ChunkRecorded", lambda p: p.update(n_passed=p["n_passed"] + 1, n_failed=p["n_failed"] - 1),
         nth=1, of=counted)  # fmt: skip
    mismatch = verify(services, counted)["mismatch"]
    assert mismatch["topic"].endswith("Run.ChunkRecorded") and mismatch["originator_version"] == 4  # after the plan
    edit(services, "Run.Started", lambda p: p["spec"]["config"].update(concurrency=1), of=specified)
    mismatch = verify(services, specified)["mismatch"]
    assert mismatch["topic"].endswith("Run.Started") and "fields do not match" in mismatch["problem"]
    edit(services, "Run.Completed", lambda p: p.update(digest="0" * 64), of=completed)
    mismatch = verify(services, completed)["mismatch"]
    assert mismatch["topic"].endswith("Run.Completed") and "what ran and the results" in mismatch["problem"]
    assert verify(services)["mismatch"]["originator_id"] in {str(counted), str(specified), str(completed)}


def test_a_deleted_event_is_named(services: Services, world: dict) -> None:
    gapped, shortened = finished_run(services, world), finished_run(services, world)
    delete(services, str(gapped), 4)  # the run's second ChunkRecorded (after Started and the plan): a gap
    for report in (verify(services, gapped), verify(services)):
        mismatch = report["mismatch"]
        assert (mismatch["originator_id"], mismatch["originator_version"]) == (str(gapped), 4)
        assert "is missing" in mismatch["problem"]
    delete(services, str(run_chunk_id(shortened, 9)), 2)  # the last chunk's items: no gap, a chunk without them
    mismatch = verify(services, shortened)["mismatch"]
    assert (mismatch["originator_id"], mismatch["topic"].rsplit(":")[1]) == (str(shortened), "Run.ChunkRecorded")
    assert "covers [9, 10) but holds 0 items" in mismatch["problem"]


def test_an_edited_dataset_item_is_named_on_its_version_chunk(services: Services, world: dict) -> None:
    run_id = finished_run(services, world)
    originator, version = edit(services, "DatasetVersionChunk.Created",
                               lambda p: p["items"][0]["input"].update(order_id=99))  # fmt: skip
    for report in (verify(services, run_id), verify(services)):
        mismatch = report["mismatch"]
        assert (mismatch["originator_id"], mismatch["originator_version"]) == (originator, version)
        assert "dataset version recorded" in mismatch["problem"]


def test_a_rescore_is_chained_and_verified_with_its_run(services: Services, world: dict) -> None:
    run_id = finished_run(services, world)
    from agnt5_evals.domain.scoring import parse_scorer_spec, with_keys

    scorers = with_keys([parse_scorer_spec('{"name": "contains", "config": {"pattern": "1"}}')])
    rescore_id = services.app.start_rescore(run_id, scorers, [], 10, replace_latest=True).id
    assert RescoreExecutor(services, rescore_id).execute() == "completed"
    report = verify(services, run_id)
    assert report["ok"] is True and set(report["digests"]) == {str(run_id), str(rescore_id)}
    assert report["checked"]["rescores"] == 1
    edit(services, "RescoreChunk.ItemRescored", lambda p: p.update(status="passed", scores=[]))
    mismatch = verify(services, run_id)["mismatch"]
    assert mismatch is not None and mismatch["topic"].endswith("RescoreChunk.ItemRescored")


def test_digests_do_not_depend_on_chunking_and_old_events_are_unchained() -> None:
    items = [{"id": str(n), "input": {"n": n}} for n in range(7)]
    whole, parts = digests.parts_digests([items[:3], items[3:]])
    assert whole == digests.items_digest(items) == digests.parts_digests([items])[0]
    assert parts == [digests.items_digest(items[:3]), digests.items_digest(items[3:])]
    assert digests.canonical({"b": 1, "a": [1.5, "é"]}) == '{"a":[1.5,"é"],"b":1}'.encode()


def test_the_garbage_collector_is_paused_only_while_a_big_read_runs() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("the body failed")
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # left as it was found
    finally:
        gc.enable()


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_a_store_from_before_hash_chains_verifies_as_unchained(services: Services, world: dict) -> None:
    run_id = finished_run(services, world)
    edit(services, "Run.Started", lambda p: p.pop("digest"))  # as written by an older version
    report = verify(services, run_id)
    assert report["ok"] is True and report["unchained"] == [
        {"kind": "run", "id": str(run_id), "why": "recorded before hash chains"}
    ]


def test_the_cli_and_the_api_verify_and_name_the_mismatch(services: Services, world: dict) -> None:
    from fastapi.testclient import TestClient

    from agnt5_evals.api.main import create_app
    from tests.cli.conftest import cli_runner

    agnt5 = cli_runner()
    run_id = finished_run(services, world)
    ok = agnt5("audit", "verify", str(run_id))
    assert "OK: every digest matches." in ok.stdout and f"Digest of {run_id}: " in ok.stdout
    with TestClient(create_app()) as client:
        assert client.get("/api/v1/audit/verify", params={"run_id": str(run_id)}).json()["ok"] is True
        originator, version = edit(services, "RunChunk.ItemsRecorded", lambda p: p["items"][0].update(error="edited"))
        body = client.get("/api/v1/audit/verify").json()
        assert body["ok"] is False and body["mismatch"]["originator_id"] == originator
        assert client.get("/api/v1/audit/verify", params={"run_id": "nope"}).status_code == 422
    failed = agnt5("audit", "verify", "--all", code=5)
    assert f"{originator} (version {version})" in failed.stderr
    assert orjson.loads(agnt5("audit", "verify", str(run_id), "--format", "json", code=5).stdout)["ok"] is False
    assert "give a run id or --all" in agnt5("audit", "verify", code=1).stderr
