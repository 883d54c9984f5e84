"""Execute a run: call the target for each item, score it, and record results one chunk per save."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import IntegrityError

from domain import ids
from domain.gates import item_status
from domain.model import DatasetVersion, Deployment
from domain.runs import Run, RunChunk
from domain.scoring import ScorerInput
from runner.bootstrap import Services
from runner.components import components_of, import_module, invoke
from runner.scoring import ScorerRuntime
from runner.sdk import Context

CHUNK_ITEMS = 500
FLUSH_SECONDS = 0.5


def load_target(services: Services, spec: dict[str, Any]) -> Callable[..., Any]:
    target = spec["target"]
    deployment = services.app.get(Deployment, UUID(target["deployment_id"]), "deployment")
    found = components_of(import_module(deployment.module, deployment.path))
    name = target["component_name"]
    if name not in found:
        raise LookupError(f"component {name!r} is not defined by module {deployment.module}")
    return found[name]


def execute_item(fn: Callable[..., Any], item: dict[str, Any], run_item: str) -> dict[str, Any]:
    """Run the target on one item; an exception is an errored item with a short reason."""
    ctx = Context(run_item)
    started_at = datetime.now(UTC).isoformat()
    ctx.event("run.started", {"input": item["input"]})
    t0 = time.perf_counter()
    output, error = None, None
    try:
        output = invoke(fn, ctx, item["input"])
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
        ctx.event("run.failed", {"error": error, "error_code": type(exc).__name__})
    else:
        ctx.event("run.completed", {})
    duration_ms = (time.perf_counter() - t0) * 1000
    if error is None:
        try:
            orjson.dumps(output)
        except TypeError as exc:
            output, error = None, f"TypeError: the output is not JSON-serializable ({exc})"
            ctx.event("run.failed", {"error": error, "error_code": "TypeError"})
    return {"output": output, "error": error, "events": jsonable(ctx.events), "started_at": started_at,
            "duration_ms": round(duration_ms, 3)}  # fmt: skip


def jsonable(value: Any) -> Any:
    """A JSON-native copy (unknown types as strings), so a recorded event can always be saved."""
    return orjson.loads(orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS))


def score_item(scoring: ScorerRuntime, spec: dict[str, Any], item: dict[str, Any], result: dict[str, Any],
               run_id: str, run_item: str) -> list[dict[str, Any]]:  # fmt: skip
    if result["error"] is not None:
        return []  # nothing to score: the item is errored
    scores = []
    for index, scorer in enumerate(spec["scorers"]):
        inp = ScorerInput(
            output=result["output"], expected_output=item.get("expected_output"), input=item["input"],
            config=scorer.get("config") or {}, events=result["events"],
            metadata={"run_id": run_id, "run_item_id": run_item, "item_metadata": item.get("metadata") or {}},
        )  # fmt: skip
        outcome = scoring.score(scorer, inp)
        scores.append(jsonable({
            "id": str(ids.score_id(UUID(run_item), index, scorer["key"])), "key": scorer["key"],
            "name": scorer["name"], "config": scorer.get("config") or {}, **outcome.as_output(),
            "errored": outcome.errored, "evidence": outcome.evidence,
        }))  # fmt: skip
    return scores


class Executor:
    """Drives one run to a terminal state; the only writer of that run while it executes."""

    def __init__(self, services: Services, run_id: UUID, chunk_items: int = CHUNK_ITEMS) -> None:
        self.services = services
        self.app = services.app
        self.run_id = run_id
        self.chunk_items = chunk_items
        self.scoring = ScorerRuntime(lambda deployment_id: self.app.get(Deployment, deployment_id, "deployment"))

    def execute(self) -> str:
        run = self.app.get(Run, self.run_id, "run")
        if run.status != "running":
            return str(run.status)
        try:
            fn = load_target(self.services, run.spec)
            version = self.app.get(DatasetVersion, run.dataset_version_id, "dataset version")
            items = self.app.version_items(version)
            while run.next_position < run.total:
                run = self._chunk(run, fn, items)
                if run.status != "running":
                    return str(run.status)
            run.complete()
            self.app.save(run)
        except Exception as exc:
            traceback.print_exc()
            run = self.app.get(Run, self.run_id, "run")
            if run.status == "running":
                run.fail(f"{type(exc).__name__}: {exc}"[:500])
                self.app.save(run)
        finally:
            self.scoring.close()
            self.services.catch_up()
        return str(run.status)

    def _chunk(self, run: Run, fn: Callable[..., Any], items: list[dict[str, Any]]) -> Run:
        start = position = run.next_position
        chunk = RunChunk(run_id=run.id, chunk_no=run.chunks, start=start)
        counts = {"passed": 0, "failed": 0, "errored": 0}
        deadline = time.monotonic() + FLUSH_SECONDS
        while position < run.total and position - start < self.chunk_items and time.monotonic() < deadline:
            item, repetition = items[position // run.repetitions], position % run.repetitions
            run_item = str(ids.run_item_id(run.id, item["id"], repetition))
            result = execute_item(fn, item, run_item)
            scores = score_item(self.scoring, run.spec, item, result, str(run.id), run_item)
            status = item_status(result["error"], scores)
            counts[status] += 1
            chunk.record_item(
                run_id=str(run.id),
                run_item_id=run_item,
                dataset_item_id=item["id"],
                position=position,
                repetition=repetition,
                status=status,
                scores=scores,
                **result,
            )
            position += 1
        run.record_chunk(chunk.chunk_no, start, position, counts)
        try:
            self.app.save(run, chunk)
        except IntegrityError:
            # Someone else wrote to the run (a cancel): results that finished after it are dropped.
            fresh = self.app.get(Run, run.id, "run")
            if fresh.status == "running":
                raise
            return fresh
        self.services.catch_up()
        return run
