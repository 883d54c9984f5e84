"""The draft's restore and removal events: small, replayable, and folded identically after a rebuild."""

from __future__ import annotations

import orjson

from domain.model import Dataset
from projections import queries


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
