"""The export of a run reads it in a few queries, however many items it has (no query per item)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.services import exports
from tests.support import definition, execute


def _run(svc: Services, world: dict[str, Any], items: int) -> str:
    app = svc.app
    ds = app.create_dataset(f"orders-{items}")
    app.add_items(ds.id, [{"input": {"order_id": n}, "expected_output": n} for n in range(items)])
    version = app.publish(ds.id)
    experiment = app.create_experiment(f"exp-{items}", "", definition(ds.id, version.id, world["good"], "json_valid"))
    run_id: UUID = app.start_run(experiment.id).id
    execute(svc, run_id)
    svc.catch_up()
    return str(run_id)


def _queries(svc: Services, monkeypatch: pytest.MonkeyPatch, run_id: str, fmt: str) -> tuple[int, bytes]:
    calls: list[str] = []
    query = svc.view.query

    def counted(sql: str, params: Any = ()) -> Any:
        calls.append(sql)
        return query(sql, params)

    monkeypatch.setattr(svc.view, "query", counted)
    body, _ = exports.export_file(svc, run_id, fmt)
    monkeypatch.setattr(svc.view, "query", query)
    return len(calls), body


@pytest.mark.parametrize("fmt", ["csv", "junit", "html"])
def test_an_export_reads_as_many_queries_for_forty_items_as_for_four(
    services: Services, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    small, big = _run(services, world, 4), _run(services, world, 40)
    (few, small_body), (many, big_body) = (_queries(services, monkeypatch, run, fmt) for run in (small, big))
    assert few == many <= 8
    assert len(big_body) > len(small_body)
