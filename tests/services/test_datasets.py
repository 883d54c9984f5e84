"""Dataset draft use cases on both stores: create, add, publish, each read back after its own write."""

from __future__ import annotations

from uuid import UUID

import pytest

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.domain.errors import Conflict, Invalid
from agnt5_evals.projections import queries
from agnt5_evals.services import datasets


def test_create_add_and_publish_return_what_each_wrote(services: Services) -> None:
    created = datasets.create_dataset(services, "orders", "support orders", {"team": "support"})
    did = UUID(created["id"])
    assert (created["name"], created["draft_items"], created["versions"]) == ("orders", 0, 0)

    added = datasets.add_items(services, did, [{"input": {"order_id": n}, "expected_output": n} for n in (1, 2)])
    assert (added["id"], added["added"], added["draft_items"]) == (str(did), 2, 2)

    example = datasets.add_example(services, did, {"input": {"order_id": 3}, "split": "test"})
    assert example["id"] == example["item_id"] and example["input"] == {"order_id": 3}
    assert example["split"] == "test"

    version = datasets.publish(services, did, "first", {"source": "tests"})
    assert (version["number"], version["n_items"], version["dataset_id"]) == (1, 3, str(did))
    assert [item["input"] for item in queries.version_items(services.view, version["id"])] == [
        {"order_id": 1}, {"order_id": 2}, {"order_id": 3},
    ]  # fmt: skip


def test_add_items_is_all_or_none(services: Services) -> None:
    did = UUID(datasets.create_dataset(services, "orders")["id"])
    with pytest.raises(Invalid):
        datasets.add_items(services, did, [{"input": 1}, {"expected_output": "no input"}])
    services.catch_up()
    assert queries.dataset(services.view, str(did))["draft_items"] == 0


def test_publish_of_an_empty_draft_is_refused(services: Services) -> None:
    did = UUID(datasets.create_dataset(services, "orders")["id"])
    with pytest.raises(Conflict, match="the draft is empty"):
        datasets.publish(services, did)
