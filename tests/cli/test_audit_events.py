"""`agnt5 audit events` and `GET /audit/events`: the log itself, in order, filtered by the links events carry."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from agnt5_evals.api.main import create_app
from tests.cli.conftest import Agnt5, data, out

pytestmark = pytest.mark.both_modes


def _lines(result: object) -> list[dict]:
    return [json.loads(line) for line in str(result.stdout).splitlines() if line.strip()]  # type: ignore[attr-defined]


def test_audit_events_prints_the_whole_log_in_order(agnt5: Agnt5, page: dict[str, str]) -> None:
    events = _lines(agnt5("audit", "events", "--format", "jsonl"))
    positions = [e["position"] for e in events]
    assert positions == sorted(positions) and positions[0] == 1 and len(set(positions)) == len(positions)
    first = events[0]
    assert first["topic"] == "agnt5_evals.domain.model:Dataset.Created"
    assert first["originator_id"] == page["dataset"] and first["originator_version"] == 1
    assert first["payload"]["name"] == "support-cases" and first["timestamp"]
    after = _lines(agnt5("audit", "events", "--after", str(positions[2]), "--format", "jsonl"))
    assert [e["position"] for e in after] == positions[3:]


def test_audit_events_of_one_run_follow_its_chunks_and_nothing_else(agnt5: Agnt5, page: dict[str, str]) -> None:
    base = data(agnt5("experiments", "run", page["experiment"], "--wait", "--format", "json"))
    other = data(agnt5("experiments", "run", page["experiment"], "--wait", "--format", "json"))
    events = _lines(agnt5("audit", "events", "--run-id", base["id"], "--format", "jsonl"))
    topics = [e["topic"].partition(":")[2] for e in events]
    assert topics[0] == "Run.Started" and "Run.Completed" in topics
    recorded = [item for e in events if e["topic"].endswith("RunChunk.ItemsRecorded") for item in e["payload"]["items"]]
    assert len(recorded) == base["total_items"] == 6
    assert {item["run_id"] for item in recorded} == {base["id"]}
    assert all(other["id"] not in json.dumps(e) for e in events)
    experiment = _lines(agnt5("audit", "events", "--experiment-id", page["experiment"], "--format", "jsonl"))
    assert sum(e["topic"].endswith("Run.Started") for e in experiment) == 2
    dataset = _lines(agnt5("audit", "events", "--dataset-id", page["dataset"], "--format", "jsonl"))
    assert {e["topic"].partition(":")[2].split(".")[0] for e in dataset} == {
        "Dataset",
        "DatasetVersion",
        "DatasetVersionChunk",
    }
    table = out(agnt5("audit", "events", "--run-id", base["id"], "--limit", "2"))
    assert "Run.Started" in table and "ItemsRecorded" not in table


def test_audit_events_refuses_two_filters_and_bad_positions(agnt5: Agnt5, page: dict[str, str]) -> None:
    both = agnt5("audit", "events", "--run-id", page["experiment"], "--dataset-id", page["dataset"], code=1)
    assert "at most one" in both.stderr
    assert "after" in agnt5("audit", "events", "--after", "-1", code=1).stderr


def test_get_audit_events_gives_the_same_rows(agnt5: Agnt5, page: dict[str, str]) -> None:
    cli = _lines(agnt5("audit", "events", "--dataset-id", page["dataset"], "--format", "jsonl"))
    with TestClient(create_app()) as client:
        answer = client.get("/api/v1/audit/events", params={"dataset_id": page["dataset"]})
        assert answer.status_code == 200
        assert answer.json() == cli
        paged = client.get("/api/v1/audit/events", params={"after": cli[0]["position"], "limit": 1}).json()
        assert [e["position"] for e in paged] == [cli[0]["position"] + 1]
        assert client.get("/api/v1/audit/events", params={"limit": 0}).status_code == 422


def test_audit_events_of_a_dataset_include_every_version_and_its_chunks(agnt5: Agnt5) -> None:
    ds = out(agnt5("datasets", "create", "--name", "two-versions"))
    other = out(agnt5("datasets", "create", "--name", "other"))
    for n in (1, 2):
        agnt5("datasets", "upload", ds, input=json.dumps({"input": n}))
        agnt5("datasets", "publish", ds)
    agnt5("datasets", "upload", other, input=json.dumps({"input": 9}))
    agnt5("datasets", "publish", other)
    events = _lines(agnt5("audit", "events", "--dataset-id", ds, "--format", "jsonl"))
    kinds = [e["topic"].partition(":")[2] for e in events]
    assert kinds.count("DatasetVersionChunk.Created") == 2 and kinds.count("DatasetVersion.Created") == 2
    assert all(other not in json.dumps(e) for e in events)
