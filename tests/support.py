"""Shared test helpers: experiment definitions, a small world of entities, in-process execution."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.adapters.components import discover
from agnt5_evals.domain.runs import ITEM_FIELDS, RunChunk, chunk_items
from agnt5_evals.domain.scoring import parse_scorer_spec, with_keys
from agnt5_evals.worker.execute import Executor

T = TypeVar("T")
DEADLINE_S = 120.0  # generous: a condition that holds at all holds long before this on a machine running two suites


def wait_until(
    condition: Callable[[], T | None], timeout: float = DEADLINE_S, message: str | Callable[[], str] = ""
) -> T:
    """Poll ``condition`` until it returns something truthy (returned); fail the test at the deadline.

    Tests wait on facts (a status, a count, a file), never on the clock: the deadline only bounds a hang.
    ``message`` (or a function giving it, such as a worker's log) says what did not happen.
    """
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {message() if callable(message) else message}")
        time.sleep(0.05)
    return value


def release(path: Path) -> None:
    """Let every item held on ``path`` go on (see ``hold`` in the components of tests/conftest.py)."""
    path.write_text("go")


def definition(dataset_id: UUID, version_id: UUID, deployment_id: UUID, *scorers: str, **config: Any) -> dict:
    return {
        "dataset_id": str(dataset_id),
        "dataset_version_id": str(version_id),
        "target": {
            "type": "component",
            "deployment_id": str(deployment_id),
            "component_name": "support_agent",
            "component_type": "agent",
        },
        "scorers": with_keys([parse_scorer_spec(s) for s in scorers or ("json_valid",)]),
        "config": config,
    }


def make_world(services: Services, agent_dir: Path) -> dict[str, Any]:
    """A published 10-item dataset and two deployments (good and regressed)."""
    app = services.app
    ds = app.create_dataset("orders")
    app.add_items(ds.id, [{"input": {"order_id": n}, "expected_output": n} for n in range(1, 11)])
    version = app.publish(ds.id)
    good = app.create_deployment("good", "good_agent", str(agent_dir), discover("good_agent", str(agent_dir)))
    bad = app.create_deployment("bad", "regressed_agent", str(agent_dir), discover("regressed_agent", str(agent_dir)))
    return {"dataset": ds.id, "version": version.id, "good": good.id, "bad": bad.id}


def unsharded_run(app: Any, experiment_id: Any) -> Any:
    """A run recorded in one chunk of any size, as a run from before shards (no ``ShardsPlanned``)."""
    app.shard_runs = False
    try:
        return app.start_run(experiment_id).id
    finally:
        app.shard_runs = True


RUN_ITEM_TOPICS = ["agnt5_evals.domain.runs:RunChunk.ItemsRecorded", "agnt5_evals.domain.runs:RunChunk.ItemRecorded"]


def logged_items(app: Any) -> Iterator[dict[str, Any]]:
    """Every run item the log holds, in log order: each item of a chunk's ``ItemsRecorded`` (and of an older
    ``ItemRecorded``), as its event decodes."""
    for notification in app.recorder.select_notifications(1, 100_000_000, topics=RUN_ITEM_TOPICS):
        event = app.mapper.to_domain_event(notification)
        yield from chunk_items(type(event).__qualname__, vars(event))


@contextmanager
def recording_as_before() -> Iterator[None]:
    """Chunks saved meanwhile hold one ``ItemRecorded`` event per item, as every chunk did before ``ItemsRecorded``
    (as that version's ``record_items`` did): a store written then holds such runs, and they must read, rebuild,
    verify, replay and rescore as they did."""

    def record(chunk: RunChunk, items: Any) -> None:
        for item in items:
            chunk.trigger_event(chunk.ItemRecorded, **{name: item[name] for name in ITEM_FIELDS})  # type: ignore[attr-defined]

    original = RunChunk.record
    RunChunk.record = record  # type: ignore[method-assign]
    try:
        yield
    finally:
        RunChunk.record = original  # type: ignore[method-assign]


def execute(services: Services, run_id: UUID, chunk_items: int = 500) -> str:
    return Executor(services, run_id, chunk_items).execute()


def replayed(aggregate: Any) -> tuple[list[str], Any]:
    """Collect an aggregate's new events; return their names and a copy rebuilt from them alone.

    The copy must equal the original: each ``@event`` method only assigns state, as replay runs it again.
    """
    events = aggregate.collect_events()
    copy = None
    for domain_event in events:
        copy = domain_event.mutate(copy)
    return [type(e).__qualname__ for e in events], copy


def commands(cls: type) -> list[str]:
    """The public methods an aggregate class defines (its commands and queries)."""
    return [name for name, member in vars(cls).items() if inspect.isfunction(member) and not name.startswith("_")]
