"""Issue 9: an upload larger than one event is staged in UploadChunks, then committed by one small Dataset event."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from agnt5_evals.domain.errors import Conflict
from agnt5_evals.domain.model import Dataset
from agnt5_evals.projections import queries

N = 1_200  # three staged chunks of <= 500 items


def rows(n: int, tag: str) -> list[dict[str, Any]]:
    return [{"id": f"{tag}-{k}", "input": {"tag": tag, "k": k}, "expected_output": k} for k in range(n)]


def topics(app: Any, after: int) -> list[str]:
    return [n.topic.rsplit(":", 1)[1] for n in app.recorder.select_notifications(after + 1, 100_000)]


def view_draft(services: Any, dataset_id: Any) -> list[str]:
    services.catch_up()
    return [row["item_id"] for row in queries.draft_items(services.view, str(dataset_id))]


def test_a_writer_between_staging_and_commit_makes_the_upload_fail_whole(services):
    app = services.app
    ds = app.create_dataset("raced")
    staged = app.stage_upload(ds.id, rows(N, "up"))
    app.add_items(ds.id, [{"id": "other", "input": "the winner"}])  # another writer saves the dataset meanwhile
    head = app.recorder.max_notification_id()
    with pytest.raises(Conflict, match="another writer"):
        app.commit_upload(staged)
    assert app.recorder.max_notification_id() == head  # the commit wrote nothing
    dataset = app.get(Dataset, ds.id, "dataset")
    assert [item["id"] for item in app.draft_items(dataset)] == ["other"] and dataset.draft_size == 1
    assert view_draft(services, ds.id) == ["other"]

    app.add_items(ds.id, rows(N, "up"))  # trying again adds every item once
    assert view_draft(services, ds.id) == ["other"] + [f"up-{k}" for k in range(N)]


def test_an_upload_is_one_small_commit_and_publish_gives_its_items_in_order(services):
    app = services.app
    ds = app.create_dataset("ordered")
    app.add_items(ds.id, rows(2, "before"))
    head = app.recorder.max_notification_id()
    written = app.add_items(ds.id, rows(N, "up"))
    assert written.number == N
    assert topics(app, head) == ["UploadChunk.Created"] * 3 + ["Dataset.UploadCommitted"]
    commit = app.recorder.select_notifications(written.position, 1)[0]
    assert len(commit.state) < 1000 and orjson.loads(commit.state)["n_items"] == N
    app.add_items(ds.id, rows(1, "after"))
    expected = [f"before-{k}" for k in range(2)] + [f"up-{k}" for k in range(N)] + ["after-0"]
    assert view_draft(services, ds.id) == expected

    version = app.publish(ds.id)
    services.catch_up()
    items = queries.version_items(services.view, str(version.id))
    assert [item["item_id"] for item in items] == expected
    assert items[2]["input"] == {"tag": "up", "k": 0} and items[-2]["expected_output"] == N - 1


def test_removing_and_reuploading_staged_items_then_rebuild_gives_identical_draft_rows(services):
    app = services.app
    ds = app.create_dataset("edited")
    app.add_items(ds.id, rows(N, "a"))
    v1 = app.publish(ds.id)
    app.restore_draft(ds.id, v1.id)  # a-* are now the restored base's items, referenced by the version
    b = rows(N, "b")
    b[0]["input"], b[1]["input"] = {"tag": "a", "k": 0}, {"tag": "a", "k": 1}  # duplicates of a-0 and a-1
    app.add_items(ds.id, b)
    app.dedup_draft(ds.id, ["a-0", "b-1"])  # one item of the restored base, one of the upload
    app.add_items(ds.id, [{"id": "b-1", "input": "again"}, *rows(N, "c")])  # b-1 removed, so it may come back
    dataset = app.get(Dataset, ds.id, "dataset")
    assert dataset.draft == {}  # the aggregate references the uploads' chunks instead of holding their items
    expected = [f"a-{k}" for k in range(1, N)] + [f"b-{k}" for k in range(N) if k != 1] + ["b-1"]
    expected += [f"c-{k}" for k in range(N)]
    assert [item["id"] for item in app.draft_items(dataset)] == expected
    assert dataset.draft_size == len(expected) and view_draft(services, ds.id) == expected
    before = (queries.draft_items(services.view, str(ds.id)), queries.datasets(services.view))
    services.rebuild()
    assert (queries.draft_items(services.view, str(ds.id)), queries.datasets(services.view)) == before

    app.restore_draft(ds.id, v1.id)  # the restore drops the uploads from the draft
    assert view_draft(services, ds.id) == [f"a-{k}" for k in range(N)]


def test_csv_and_rest_uploads_take_the_same_staged_path(services):
    from fastapi.testclient import TestClient

    from agnt5_evals.api.main import create_app
    from agnt5_evals.domain.csv_import import CsvMapping
    from agnt5_evals.services import datasets as use

    app = services.app
    ds = app.create_dataset("edges")
    head = app.recorder.max_notification_id()
    text = "input,expected_output\n" + "".join(f"q{k},{k}\n" for k in range(N))
    assert use.upload_csv(services, ds.id, text, CsvMapping())["added"] == N
    with TestClient(create_app()) as client:
        response = client.post(f"/api/v1/datasets/{ds.id}/items", json={"items": rows(N, "rest")})
    assert response.status_code == 201, response.text
    assert topics(app, head) == (["UploadChunk.Created"] * 3 + ["Dataset.UploadCommitted"]) * 2
    assert len(view_draft(services, ds.id)) == 2 * N
