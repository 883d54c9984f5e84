"""Inline evals (the AGNT5 gateway's ``POST /v1/eval``): one input through a deployed component and scorers, now,
recorded in the log as a small run anyone can inspect afterwards.

Each eval reuses the run machinery, so its run, item, output, trace events and scores are the same records an
experiment's run has (``runs show``, ``runs items``, ``audit``):

- one **inline experiment** per project, deployment, component and scorer set (found again by its name, which
  ends with a digest of those), whose runs are the evals made with them;
- per eval, a one-item **dataset** ``inline-eval-<component>`` (metadata ``inline_eval``) with one published
  version: the experiment is pointed at that version and a run started, then executed here, synchronously, by
  the worker's ``Executor`` while this process holds the run's lock.

Two evals of one experiment at once are serialised in this process (a lock per experiment); another process may
still re-point the experiment between our update and our start: the run then holds another eval's version, so it
is cancelled and the start tried again.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any
from uuid import UUID

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.domain.errors import Conflict, Invalid, NotFound, Unavailable
from agnt5_evals.domain.runs import Run
from agnt5_evals.domain.tenancy import current_project
from agnt5_evals.projections import queries
from agnt5_evals.services import operations
from agnt5_evals.services.definitions import scorers_from
from agnt5_evals.worker.execute import Executor
from agnt5_evals.worker.locks import RunLock

NO_SCORERS = "no_errors"  # with no scorers (the SDK sends none without an expected value): did it run?
EXPERIMENT_PREFIX = "inline-eval"
MAX_STARTS = 5
OTHER_WORKER_WAIT_S = 600.0  # a supervisor (agnt5 worker) took the run between its start and our lock

_experiments: dict[tuple[str, str], str] = {}  # (project, name) -> experiment id, found or created here
_locks: dict[tuple[str, str], threading.Lock] = {}
_guard = threading.Lock()


def _lock(key: tuple[str, str]) -> threading.Lock:
    with _guard:
        return _locks.setdefault(key, threading.Lock())


def _specs(scorers: list[str | dict[str, Any]]) -> list[str]:
    """Scorer specs as ``scorers_from`` takes them: a name, or ``{name, config}`` as JSON."""
    return [s if isinstance(s, str) else json.dumps(s, sort_keys=True) for s in scorers] or [NO_SCORERS]


def _experiment(svc: Services, name: str) -> str:
    """The id of the inline experiment called ``name`` ("" when there is none yet): this process's, else the read
    model's (another process may have created it)."""
    key = (str(current_project()), name)
    if not _experiments.get(key):
        found = next((row["id"] for row in queries.experiments(svc.view, shown="all") if row["name"] == name), "")
        _experiments[key] = found
    return _experiments[key]


def _dataset_version(svc: Services, component: str, item: dict[str, Any]) -> tuple[UUID, UUID]:
    """A new one-item dataset and its published version."""
    dataset = svc.app.create_dataset(f"{EXPERIMENT_PREFIX}-{component[:80]}", "one inline eval",
                                     {"inline_eval": True})  # fmt: skip
    svc.app.add_items(dataset.id, [item])
    return dataset.id, svc.app.publish(dataset.id, "inline eval").id


def _start(svc: Services, name: str, definition: dict[str, Any]) -> UUID:
    """Point the inline experiment at the eval's dataset version (creating the experiment the first time) and
    start its run; see the module's text for a start that finds another eval's version."""
    version_id = UUID(definition["dataset_version_id"])
    for _ in range(MAX_STARTS):
        experiment_id = _experiment(svc, name)
        if experiment_id:
            changes = {key: definition[key] for key in ("dataset_id", "dataset_version_id")}
            svc.app.update_experiment(UUID(experiment_id), changes)
        else:
            experiment_id = str(svc.app.create_experiment(name, "inline evals (POST /v1/eval)", definition).id)
            _experiments[(str(current_project()), name)] = experiment_id
        run = svc.app.start_run(UUID(experiment_id), "inline-eval")
        if svc.app.get(Run, run.id, "run").dataset_version_id == version_id:
            return run.id
        svc.app.cancel_run(run.id, "started on another inline eval's dataset version")
    raise Conflict("the inline eval's experiment kept changing under it; try again")


def _check_target(svc: Services, target: dict[str, Any]) -> None:
    """The deployment and its component, or NotFound (the SDK's 404: "component not found") naming the header or
    the body's field; a component of another type is Invalid naming ``component_type``."""
    try:
        svc.app.check_target(target)
    except NotFound as exc:
        raise NotFound(exc.message, field="X-DEPLOYMENT-ID") from None
    except Invalid as exc:
        if exc.field == "target.component_name":
            raise NotFound(exc.message, field="component") from None
        raise Invalid(exc.message, field="component_type") from None


def evaluate(
    svc: Services,
    deployment_id: UUID,
    component: str,
    component_type: str,
    input_data: Any,
    expected: Any,
    has_expected: bool,
    scorers: list[str | dict[str, Any]],
) -> dict[str, Any]:
    """Run one inline eval to its end and answer the SDK's ``EvalResponse`` (``output, scores, passed, run_id,
    trace_id, duration_ms, error``)."""
    started = time.monotonic()
    target = {"type": "component", "deployment_id": str(deployment_id), "component_name": component,
              "component_type": component_type}  # fmt: skip
    _check_target(svc, target)
    specs = scorers_from(svc, _specs(scorers), None)
    digest = hashlib.sha256(json.dumps([target, specs], sort_keys=True).encode()).hexdigest()[:16]
    name = f"{EXPERIMENT_PREFIX}:{component[:80]}:{digest}"
    item = {"input": input_data, **({"expected_output": expected} if has_expected else {})}
    with _lock((str(current_project()), name)):
        dataset_id, version_id = _dataset_version(svc, component, item)
        definition = {"dataset_id": str(dataset_id), "dataset_version_id": str(version_id), "target": target,
                      "scorers": specs, "config": {"retries": 0}}  # fmt: skip
        run_id = _start(svc, name, definition)
    lock = RunLock(svc.settings, str(run_id))
    with lock as held:
        if held:
            Executor(svc, run_id, owned=lock.check).execute()
    if not held and operations.wait_for_run(svc, str(run_id), OTHER_WORKER_WAIT_S) is None:
        raise Unavailable(f"run {run_id} was taken by a worker (agnt5 worker) and did not finish in time")
    return response(svc, run_id, started)


def response(svc: Services, run_id: UUID, started: float) -> dict[str, Any]:
    """The ``EvalResponse`` of a finished inline eval's run."""
    run = queries.run(svc.view, str(run_id))
    items = queries.run_items(svc.view, str(run_id))
    elapsed = round((time.monotonic() - started) * 1000)
    if not items:
        failed: dict[str, Any] = {
            "code": "EXECUTION_FAILED",
            "message": run["reason"] or f"run {run['status']}",
            "details": {},
        }
        return {"output": None, "scores": [], "passed": False, "run_id": str(run_id), "trace_id": None,
                "duration_ms": elapsed, "error": failed}  # fmt: skip
    item = items[0]
    scores = [
        {"scorer": s["scorer_key"], "score": s["score"], "passed": bool(s["passed"]),
         "explanation": s["explanation"], "label": s["label"], "metadata": s["metadata"]}
        for s in item["scores"]
    ]  # fmt: skip
    error: dict[str, Any] | None = None
    if item["error"] is not None:
        error = {"code": "EXECUTION_FAILED", "message": str(item["error"]), "details": {"run_item_id": item["id"]}}
    return {
        "output": item["output"],
        "scores": scores,
        "passed": item["status"] == "passed",
        "run_id": str(run_id),
        "trace_id": item["id"],
        "duration_ms": round(item["duration_ms"]) if item["duration_ms"] is not None else elapsed,
        "error": error,
    }


__all__ = ["evaluate", "response"]
