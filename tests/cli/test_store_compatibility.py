"""A store written before the one-package layout (topics `domain.<module>:<Class>`) keeps opening and answering.

Fields added since (deployment snapshots, a run's code digest) may join an answer; no old field changes.

tests/fixtures/store_v0_1 holds the event log of the demo (plus a rescore, an annotation and a prompt) as written
by the commit in MADE_BY_COMMIT, and the JSON answers that commit gave to 22 read queries.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from agnt5_evals.adapters.bootstrap import Settings, build
from tests.cli.conftest import Agnt5, data

pytestmark = pytest.mark.local_only  # a store of an older version is read where it lies

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "store_v0_1"


def _old_rows() -> list[tuple[Any, ...]]:
    with sqlite3.connect(FIXTURE / "events.db") as conn:
        return conn.execute(
            "SELECT originator_id, originator_version, topic, state FROM stored_events ORDER BY rowid"
        ).fetchall()


def _install_fixture(store: str, home: Path) -> None:
    """Put the old log where the store under test reads it: the file itself, or its rows in PostgreSQL."""
    if store == "sqlite":
        home.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURE / "events.db", home / "events.db")
        return
    settings = Settings.from_env()
    with build(settings) as svc:  # creates the tables in this test's schema
        schema = svc.app.recorder.datastore.schema  # type: ignore[attr-defined]
        table = svc.app.recorder.events_table_name  # type: ignore[attr-defined]
    columns = "originator_id, originator_version, topic, state"
    insert = f'INSERT INTO "{schema}"."{table}" ({columns}) VALUES (%s, %s, %s, %s)'
    with psycopg.connect(**settings.pg_connect_kwargs()) as conn:
        conn.cursor().executemany(insert, _old_rows())


def test_old_topics_are_in_the_fixture() -> None:
    topics = {row[2] for row in _old_rows()}
    assert "domain.runs:RunChunk.ItemRecorded" in topics and all(t.startswith("domain.") for t in topics)


@pytest.mark.parametrize("rebuild", [False, True], ids=["catch-up", "rebuild"])
def test_a_store_from_before_the_rename_answers_the_same_queries(
    agnt5: Agnt5, store: str, isolated_home: Path, rebuild: bool
) -> None:
    _install_fixture(store, isolated_home)
    unbuilt = agnt5("experiments", "list", "--format", "json")  # reads never write: the view is not built yet ...
    assert data(unbuilt) == [] and "run `agnt5 projections catch-up` once" in unbuilt.stderr  # ... and says so
    agnt5("projections", "rebuild" if rebuild else "catch-up")
    answers = json.loads((FIXTURE / "answers.json").read_text())
    assert len(answers) == 22
    for query in answers:
        result = agnt5(*query["args"], "--format", "json", code=None)
        assert result.exit_code in (0, 2), (query["args"], result.stderr)
        old = query["answer"]
        if query["args"][:3] == ["experiments", "runs", "list"]:
            old = [_renamed_run_row(row) for row in old]
        assert _as_before(data(result), old), (query["args"], data(result), old)
    deployments = data(agnt5("deployments", "list", "--format", "json"))
    assert deployments and all(d["editable"] and not d["bundle_digest"] for d in deployments)  # live, as they were
    shown = agnt5("deployments", "show", deployments[0]["id"]).stdout
    assert "editable: runs the live files under /work/main/scripts/demo_agents" in shown


# `runs list` rows took the names of `runs show` (issue 13: one set of field names); `passed` became the gate's
# verdict there, so the old count is `passed_items`. dataset_id stays in the spec.
RUN_ROW_RENAMES = {"total": "total_items", "done": "done_items", "passed": "passed_items", "failed": "failed_items",
                   "errored": "errored_items"}  # fmt: skip


def _renamed_run_row(row: dict[str, Any]) -> dict[str, Any]:
    out = {RUN_ROW_RENAMES.get(key, key): value for key, value in row.items() if key != "dataset_id"}
    assert out["spec"]["dataset_id"] == row["dataset_id"]
    return out


def _as_before(new: Any, old: Any) -> bool:
    """The old answer, allowing fields added since (a run's code digest, a deployment's snapshot): every old
    field answers the same value, lists keep their length and order."""
    if isinstance(old, dict):
        return isinstance(new, dict) and all(key in new and _as_before(new[key], value) for key, value in old.items())
    if isinstance(old, list):
        return isinstance(new, list) and len(new) == len(old) and all(map(_as_before, new, old))
    return bool(new == old)


def test_a_store_from_before_hash_chains_verifies_as_unchained(agnt5: Agnt5, store: str, isolated_home: Path) -> None:
    _install_fixture(store, isolated_home)
    report = data(agnt5("audit", "verify", "--all", "--format", "json"))
    assert report["ok"] is True and report["mismatch"] is None and report["digests"] == {}
    kinds = {entry["kind"] for entry in report["unchained"]}
    assert kinds == {"run", "rescore", "dataset_version"}
    assert report["checked"]["events"] == len(_old_rows())


def test_verifying_one_old_run_finds_its_rescore_under_the_old_topic(
    agnt5: Agnt5, store: str, isolated_home: Path
) -> None:
    """A run's rescores are found from their start events only, read under both topics a start is stored under."""
    _install_fixture(store, isolated_home)
    rescore_id = "3421b6bb-42f6-4288-a982-8a8ebf7ed1ac"  # the fixture's rescore, of this run
    report = data(agnt5("audit", "verify", "25912859-e75e-483d-8a6e-a6d057ebb523", "--format", "json"))
    assert report["ok"] is True and report["checked"]["runs"] == 1
    assert {"kind": "rescore", "id": rescore_id, "why": "recorded before hash chains"} in report["unchained"]
