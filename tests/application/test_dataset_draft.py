"""The draft's restore and removal events: small, replayable, and folded identically after a rebuild."""

from __future__ import annotations

import orjson

from agnt5_evals.domain.model import Dataset
from agnt5_evals.projections import queries


def test_restore_references_the_version_and_the_aggregate_tracks_the_draft_size(services):
    app = services.app
    ds = app.create_dataset("big")
    payload = "x" * 2000
    app.add_items(ds.id, [{"input": {"n": n, "pad": payload}} for n in range(1500)])
    v1 = app.publish(ds.id)
    app.add_items(ds.id, [{"input": "extra"}])
    restored = app.restore_draft(ds.id, v1.id)
    event = app.recorder.select_notifications(start=restored.position, limit=1)[0]
    assert event.topic.endswith("Dataset.DraftRestored") and len(event.state) < 500
    assert orjson.loads(event.state)["n_items"] == 1500
    dataset = app.get(Dataset, ds.id, "dataset")
    assert (dataset.draft_size, dataset.draft, dataset.draft_base) == (1500, {}, v1.id)
    app.add_items(ds.id, [{"input": 1}, {"input": 1}])
    _, removed = app.dedup_draft(ds.id)
    assert app.get(Dataset, ds.id, "dataset").draft_size == 1501 and len(removed) == 1
    v2 = app.publish(ds.id)
    services.catch_up()
    items = queries.version_items(services.view, str(v2.id))
    assert [i["input"] for i in items[-2:]] == [{"n": 1499, "pad": payload}, 1]
    before = (queries.draft_items(services.view, str(ds.id)), queries.datasets(services.view))
    assert len(before[0]) == 1501 and before[1][0]["draft_items"] == 1501
    services.rebuild()
    assert (queries.draft_items(services.view, str(ds.id)), queries.datasets(services.view)) == before


def test_a_losing_publish_never_shows_its_items_for_the_winners_version(services):
    from agnt5_evals.domain.app_datasets import _batches
    from agnt5_evals.domain.errors import Conflict
    from agnt5_evals.domain.model import DatasetVersion, DatasetVersionChunk

    app = services.app
    ds = app.create_dataset("race").id
    app.add_items(ds, [{"id": "a", "input": 1}, {"id": "b", "input": 2}])
    stale = app.get(Dataset, ds, "dataset")  # a slow publish read the draft [a, b] ...
    items = app.draft_items(stale)
    app.dedup_draft(ds, None)
    app.add_items(ds, [{"id": "c", "input": 3}])
    winner = app.publish(ds)  # ... meanwhile version 1 = [a, b, c] is published
    version_id = DatasetVersion.create_id(ds, stale.next_version_number)
    loser = [{**items[0], "id": "z", "input": 9}]  # what its draft held at position 0
    for k, part in enumerate(_batches(loser)):  # the loser saves its chunks after the winner's version
        app._save(DatasetVersionChunk(dataset_version_id=version_id, index=k, start=0, items=part))
    stale.record_version(version_id=version_id, number=1, n_items=1, description="")
    try:
        app._save(stale)
        raise AssertionError("the losing publish must clash")
    except Conflict:
        pass
    expected = [item["id"] for item in app.version_items(app.get(DatasetVersion, winner.id, "dataset version"))]
    services.catch_up()
    assert [i["item_id"] for i in queries.version_items(services.view, str(winner.id))] == expected == ["a", "b", "c"]
    services.rebuild()
    assert [i["item_id"] for i in queries.version_items(services.view, str(winner.id))] == expected
