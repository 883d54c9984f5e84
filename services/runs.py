"""Run and rescore use cases beyond starting them (see ``operations``): cancel, wait, failures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.domain import reports
from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.reports import failing_scorers, failure_stack
from agnt5_evals.projections import queries
from agnt5_evals.services import operations
from agnt5_evals.services.compare import check_scorer


def cancel_run(svc: Services, run_id: UUID, experiment_id: UUID | None = None) -> dict[str, Any]:
    """Cancel a running run (of ``experiment_id`` if given); what finished is kept. Returns its summary."""
    written = svc.app.cancel_run(run_id, experiment_id=experiment_id)
    if svc.queued:  # its shards leave the worker pool's queue
        from agnt5_evals.worker import pool

        pool.cancel(svc, run_id)
    svc.wait_for(written.position)
    return operations.summary(svc, str(written.id))


def cancel_rescore(svc: Services, rescore_id: UUID) -> dict[str, Any]:
    """Cancel a running rescore; what it recorded stays. Returns the rescore's summary."""
    written = svc.app.cancel_rescore(rescore_id)
    svc.wait_for(written.position)
    return operations.rescore_summary(svc, str(written.id))


def list_runs(svc: Services, experiment_id: str) -> list[dict[str, Any]]:
    """An experiment's runs, oldest first, each with its summary's fields but the per-scorer aggregates."""
    return [reports.run_list_row(run) for run in queries.runs(svc.view, experiment_id)]


def wait_summary(svc: Services, run_id: str, timeout: float | None) -> dict[str, Any]:
    """Wait for the run to end and return its final summary, with ``timed_out`` true (and the summary as it is)
    when the timeout passes first: the run goes on."""
    final = operations.wait_for_run(svc, run_id, timeout)
    if final is None:
        return {**operations.summary(svc, run_id), "timed_out": True}
    return {**final, "timed_out": False}


PAGE = 500  # items read at a time by the streaming reads: memory stays bounded whatever the run's size


def failures(
    svc: Services, run_id: str, scorer: str = "", limit: int | None = None, after: int = -1, raw: bool = False
) -> list[dict[str, Any]]:
    """A run's failed and errored items in position order, each with its dataset item's input and expected output,
    its scores, the scorers that failed it (label, explanation) and, for a component that raised, its stack
    trace. ``scorer``: only the items that scorer failed; ``limit``: the first N (the run must exist); ``after``:
    only the positions after it (the cursor of the next page); ``raw``: JSON values as ``queries.RawJson``."""
    return list(iter_failures(svc, run_id, scorer, limit, after, raw))


def iter_failures(
    svc: Services, run_id: str, scorer: str = "", limit: int | None = None, after: int = -1, raw: bool = False
) -> Iterator[dict[str, Any]]:
    """``failures``, read and yielded a page at a time (the run, the scorer and the limit are checked at once,
    before the first item is asked for)."""
    if limit is not None and limit < 0:
        raise Invalid(f"must be 0 or more, got {limit}", field="limit")
    run = queries.run(svc.view, run_id)
    check_scorer(svc, scorer, run_id)
    return _failure_pages(svc, run, scorer, limit, after, raw)


def _stack(events: Any) -> str | None:
    """``failure_stack`` of a run item's events; stored events without a ``run.failed`` one are not decoded."""
    if isinstance(events, queries.RawJson) and '"run.failed"' not in events.text:
        return None
    return failure_stack(queries.decoded(events))


def _failure_pages(
    svc: Services, run: dict[str, Any], scorer: str, limit: int | None, after: int, raw: bool
) -> Iterator[dict[str, Any]]:
    left = limit
    while left is None or left > 0:
        size = PAGE if left is None else min(PAGE, left)
        items = queries.run_items(svc.view, run["id"], ("failed", "errored"), size, failed_by=scorer, after=after,
                                  raw=raw)  # fmt: skip
        examples = queries.dataset_items_by_id(svc.view, run["dataset_version_id"],
                                               [i["dataset_item_id"] for i in items], raw)  # fmt: skip
        for item in items:
            example = examples.get(item["dataset_item_id"], {})
            yield {**item, "input": example.get("input"), "expected_output": example.get("expected_output"),
                   "failing_scorers": failing_scorers(item["scores"]), "stack": _stack(item["events"])}  # fmt: skip
        if len(items) < size:
            return
        after = items[-1]["position"]
        left = None if left is None else left - len(items)
