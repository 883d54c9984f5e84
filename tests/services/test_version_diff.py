"""``datasets compare`` (``services.datasets.compare``, the Studio's version diff) reads two versions' vectors (or,
for versions without them, counts in SQL) and then only the items that may have changed: its answer is what comparing
every item of both versions gives (``domain.dataset_tools.compare_versions``), both ways, on both stores, for added,
removed and changed items (each field), a split set and cleared, and an item given again with its keys in another
order (not a change)."""

from __future__ import annotations

import json

from agnt5_evals.domain.dataset_tools import compare_versions
from agnt5_evals.projections import queries
from agnt5_evals.services import datasets


def test_version_compare_in_sql_is_compare_versions_of_every_item(services):
    app = services.app
    dataset = app.create_dataset("diffs")
    items = [{"id": f"i{n:03}", "input": {"q": n, "lang": "en"}, "expected_output": {"a": n, "b": [n]},
              "metadata": {"tag": "t"}, **({"split": "test"} if n % 5 == 0 else {})} for n in range(60)]  # fmt: skip
    app.add_items(dataset.id, items)
    first = app.publish(dataset.id).id
    for n in range(0, 6):
        app.remove_item(dataset.id, f"i{n:03}")
    edits = {
        10: {"input": {"q": 10, "lang": "fr"}},
        11: {"expected_output": {"a": 0, "b": [11]}},
        12: {"metadata": {"tag": "u"}},
        13: {"split": "train"},  # had none
        15: {"split": None},  # had "test"
        16: {"input": {"lang": "en", "q": 16}},  # the same value, its keys in another order
        17: {"expected_output": {"b": [17], "a": 17}, "input": {"q": 170, "lang": "en"}},
    }
    for n, change in edits.items():
        item = {k: v for k, v in {**items[n], **change}.items() if v is not None}
        app.replace_item(dataset.id, f"i{n:03}", item)
    app.add_items(dataset.id, [{"id": f"new{n}", "input": {"q": -n}, "expected_output": None} for n in range(4)])
    second = app.publish(dataset.id).id
    services.catch_up()

    for base, other in ((first, second), (second, first), (first, first)):
        got = datasets.compare(services, dataset.id, base, other)
        every = compare_versions(queries.version_items(services.view, str(base)),
                                 queries.version_items(services.view, str(other)))  # fmt: skip
        assert json.dumps({k: got[k] for k in every}) == json.dumps(every)
        from_vectors = datasets._vector_compare(services, str(base), str(other))  # what compare answered from
        assert from_vectors is not None and json.dumps(from_vectors) == json.dumps(every)
        in_sql = {**datasets._compare_in_sql(services, str(base), str(other))}  # versions recorded before vectors
        assert json.dumps(in_sql) == json.dumps(every)
    diff = datasets.compare(services, dataset.id, first, second)
    assert [c["id"] for c in diff["changed"]] and "i016" not in [c["id"] for c in diff["changed"]]
    assert {c["id"]: c["fields"] for c in diff["changed"]}["i017"] == [
        "input"
    ]  # its reordered expected output is not a change
    assert len(diff["added"]) == 4 and len(diff["removed"]) == 6
    assert diff["unchanged"] == 54 - 6
