"""Use cases shared by the CLI and the REST API: start and wait for runs, compare, regression datasets."""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

from agnt5_evals.adapters.bootstrap import Services, dropped
from agnt5_evals.domain.annotations import agreement
from agnt5_evals.domain.errors import Conflict, Invalid, NotFound
from agnt5_evals.domain.gate_config import without_baseline
from agnt5_evals.domain.reports import EVIDENCE_PARTS, evidence, run_stats, run_summary
from agnt5_evals.domain.runs import RUN_CODE_KEYS, TERMINAL, Run
from agnt5_evals.domain.tenancy import project_scope
from agnt5_evals.projections import queries
from agnt5_evals.services import finished, gates
from agnt5_evals.services.definitions import TARGET_TYPES
from agnt5_evals.worker.locks import is_owned
from agnt5_evals.worker.rescore import PREFIX
from agnt5_evals.worker.standby import ForkedWorker, Standby
from agnt5_evals.worker.worker import launch, log_path

_workers: dict[str, subprocess.Popen[bytes] | ForkedWorker] = {}
_relaunches: dict[str, int] = {}
_lock = threading.Lock()  # guards _workers and _relaunches
MAX_RELAUNCHES = 3


def _check_worker(svc: Services, target: str) -> None:
    """Give a new worker to a run (or ``rescore:ID``) whose worker, started by this process, died before the end."""
    with _lock:  # the API server calls this from several threads
        _check_worker_locked(svc, target)


def _check_worker_locked(svc: Services, target: str) -> None:
    if svc.queued:  # the pool's: a live worker, or one started here
        from agnt5_evals.worker import pool

        rescore_id = target.removeprefix(PREFIX) if target.startswith(PREFIX) else ""
        row = queries.rescore(svc.view, rescore_id) if rescore_id else queries.run(svc.view, target)
        if row["status"] == "running":
            pool.ensure_worker(svc.settings)
        return
    proc = _workers.get(target)
    if proc is None or proc.poll() is None:
        return
    # The view as it is: a dead worker may have left its last events unprojected; a new worker (of a finished
    # run, too) catches them up.
    rescore_id = target.removeprefix(PREFIX) if target.startswith(PREFIX) else ""
    row = queries.rescore(svc.view, rescore_id) if rescore_id else queries.run(svc.view, target)
    if row["status"] != "running" or is_owned(svc.settings, target):
        return
    _relaunches[target] = _relaunches.get(target, 0) + 1
    if _relaunches[target] > MAX_RELAUNCHES:
        reason = f"worker died {MAX_RELAUNCHES + 1} times (log: {log_path(svc.settings, target)})"
        with contextlib.suppress(Conflict):  # Conflict: it finished after all
            if rescore_id:
                svc.app.fail_rescore(UUID(rescore_id), reason)
            else:
                svc.app.fail_run(UUID(target), reason)
        return
    _workers[target] = launch(target, svc.settings)


def _hand(svc: Services, target: str, standby: Standby | None) -> None:
    if svc.queued:  # the worker pool executes it (worker.pool)
        from agnt5_evals.worker import pool

        if target.startswith(PREFIX):
            pool.enqueue_rescore(svc, UUID(target.removeprefix(PREFIX)))
        else:
            pool.enqueue(svc, UUID(target))
        return
    with _lock:
        for key, proc in list(_workers.items()):  # reap finished workers (a long-lived API server starts many)
            if proc.poll() is not None and key not in _relaunches:
                _workers.pop(key, None)
        forked = standby.hand(target) if standby is not None else None
        _workers[target] = forked or launch(target, svc.settings)


def start_run(
    svc: Services,
    experiment_id: UUID,
    name: str = "",
    deployment_id: UUID | None = None,
    experiment_version_id: UUID | None = None,
    standby: Standby | None = None,
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Record the run's start, hand it to a detached worker, and return its summary.

    The worker is ``standby`` (forked before ``svc`` was opened, see ``worker.standby``) when there is one, else
    a new worker process. A standby that gets no run (an error before) is the caller's to cancel.
    """
    with svc.catch_up_later():  # the worker starts first, the read model catches up meanwhile
        written = svc.app.start_run(experiment_id, name, deployment_id, experiment_version_id, config)
        _hand(svc, str(written.id), standby)
    svc.wait_for(written.position)
    return summary(svc, str(written.id))


def rerun_run(svc: Services, run_id: UUID, name: str = "", standby: Standby | None = None) -> dict[str, Any]:
    """Start a new run of what ``run_id`` ran (``EvalsApplication.rerun_run``) in a worker; its summary."""
    with svc.catch_up_later():
        written = svc.app.rerun_run(run_id, name)
        _hand(svc, str(written.id), standby)
    svc.wait_for(written.position)
    return summary(svc, str(written.id))


def summary(svc: Services, run_id: str, detail: bool = True) -> dict[str, Any]:
    """A run's summary; ``detail`` adds latency percentiles, tokens, repetition statistics and the replacing
    rescores whose scores it holds (``replaced_by``; a failed one left a mix of old and new scores)."""
    run = queries.run(svc.view, run_id)
    result = run_summary(run, queries.run_scorers(svc.view, run_id), gates.extra_rules(svc, run))
    if detail:
        k = int(run["spec"].get("config", {}).get("repetitions", 1))

        def stats() -> dict[str, Any]:
            return run_stats(queries.run_stats(svc.view, run_id, repetitions=k > 1), k)

        result.update(stats() if k > 1 else finished.cached(svc, "run_stats", (run_id,), None, stats))
        result["replaced_by"] = [
            {"rescore_id": r["id"], "status": r["status"], "done_items": r["done"], "total_items": r["total"]}
            for r in queries.rescores(svc.view, run_id)
            if r["replace_latest"]
        ]
    return result


RECONNECT_PAUSE_S = 0.2


def _reconnected(svc: Services, exc: Exception, deadline: float | None) -> bool:
    """A wait lost its PostgreSQL connection (a server restart, ``pg_terminate_backend``): reconnect and go on
    waiting, unless the deadline passed meanwhile. Any other error is raised."""
    if not dropped(exc):
        raise exc
    time.sleep(RECONNECT_PAUSE_S)
    svc.reconnect()
    return deadline is None or time.monotonic() < deadline


def run_progress(svc: Services, run_id: str) -> dict[str, Any]:
    """One look at a running run for someone waiting on it: its short summary, after giving a new worker to a run
    whose worker (started by this process) died."""
    current = summary(svc, run_id, detail=False)
    if current["status"] not in TERMINAL:
        _check_worker(svc, run_id)
    return current


def wait_for_run(
    svc: Services,
    run_id: str,
    timeout: float | None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    poll: float = 0.1,
) -> dict[str, Any] | None:
    """Wait until the run is terminal and return its summary; None when the timeout passes first.

    Polls every ``poll`` seconds, and every 10 ms once the items left should be done within half a second at
    the rate seen so far: the end is seen soon after it is recorded, and waiting costs the machine little
    meanwhile (the worker and the database may share its cores).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    first: tuple[float, int] | None = None
    while True:  # polls the view, which the worker keeps current after each chunk
        try:
            current = summary(svc, run_id, detail=False)
            if current["status"] in TERMINAL:
                return summary(svc, run_id)
            _check_worker(svc, run_id)
        except Exception as exc:
            if not _reconnected(svc, exc, deadline):
                return None
            continue
        if progress is not None:
            progress(current)
        if deadline is not None and time.monotonic() >= deadline:
            return None
        now, done = time.monotonic(), current["done_items"]
        first = first or (now, done)
        rate = (done - first[1]) / (now - first[0]) if now > first[0] else 0.0
        near_end = rate > 0 and (current["total_items"] - done) / rate < 0.5
        time.sleep(0.01 if near_end else poll)


EXPERIMENT_STATUSES = ("active", "archived")


def list_experiments(
    svc: Services,
    dataset_id: str = "",
    status: str = "",
    target_type: str = "",
    page: int = 0,
    page_size: int = 50,
    archived: bool = False,
) -> list[dict[str, Any]]:
    """Experiments filtered as ``experiments list`` does; ``page`` (1-based) with ``page_size``, or all (0). The
    archived ones only with ``archived`` (or ``status`` archived)."""
    if status and status not in EXPERIMENT_STATUSES:
        raise Invalid(f"must be one of {', '.join(EXPERIMENT_STATUSES)}, got {status!r}", field="status")
    if target_type and target_type not in TARGET_TYPES:
        raise Invalid(f"must be one of {', '.join(TARGET_TYPES)}, got {target_type!r}", field="type")
    if page < 0 or not 1 <= page_size <= 1000:
        raise Invalid(f"need page >= 1 and 1 <= page_size <= 1000, got {page}, {page_size}", field="page, page_size")
    if dataset_id:
        queries.dataset(svc.view, dataset_id)
    shown = status or ("all" if archived else "active")
    if not target_type:
        limit, offset = (page_size, (page - 1) * page_size) if page else (0, 0)
        return queries.experiments(svc.view, dataset_id, limit, offset, shown)
    rows = [row for row in queries.experiments(svc.view, dataset_id, shown=shown)
            if row["definition"]["target"].get("type", "component") == target_type]  # fmt: skip
    return rows[(page - 1) * page_size : page * page_size] if page else rows


def _regression_items(svc: Services, run: dict[str, Any], run_item_ids: list[str]) -> list[dict[str, Any]]:
    items = queries.run_items(svc.view, run["id"])
    if run_item_ids:
        chosen = queries.chosen_run_items(items, run_item_ids, run["id"])
    else:
        chosen = [item for item in items if item["status"] != "passed"]
    if not chosen:
        raise Conflict(f"run {run['id']} has no failed items; there is nothing to capture")
    seen: set[str] = set()
    out = []
    for item in chosen:
        if item["dataset_item_id"] in seen:
            continue
        seen.add(item["dataset_item_id"])
        source = queries.dataset_item(svc.view, run["dataset_version_id"], item["dataset_item_id"])
        metadata = {**source["metadata"], "source_run_id": run["id"], "source_run_item_id": item["id"],
                    "source_dataset_item_id": item["dataset_item_id"]}  # fmt: skip
        out.append({"input": source["input"], "expected_output": source["expected_output"],
                    "metadata": metadata, "events": source["events"], "split": source["split"]})  # fmt: skip
    return out


def regression_dataset(
    svc: Services,
    run_id: str,
    name: str,
    run_item_ids: list[str],
    start: bool = False,
    deployment_id: UUID | None = None,
    standby: Standby | None = None,
) -> dict[str, Any]:
    """Capture a run's failed (or chosen) items as a published dataset and an experiment over it, in the run's
    project (another project's run is not found)."""
    if not name.strip():
        raise Invalid("must not be empty", field="name")
    run = queries.run(svc.view, run_id)
    project = svc.app.get(Run, UUID(run_id), "run", field="run_id").project_id
    with project_scope(project):
        return _regression_dataset(svc, run, name, run_item_ids, start, deployment_id, standby)


def _regression_dataset(
    svc: Services,
    run: dict[str, Any],
    name: str,
    run_item_ids: list[str],
    start: bool,
    deployment_id: UUID | None,
    standby: Standby | None,
) -> dict[str, Any]:
    run_id = run["id"]
    if run["status"] == "running":
        raise Conflict(f"run {run_id} is still running; wait for it to finish first")
    items = _regression_items(svc, run, run_item_ids)
    app = svc.app
    dataset = app.create_dataset(name, f"Regression items from run {run_id}", {"source_run_id": run_id})
    app.add_items(dataset.id, items)
    version = app.publish(dataset.id, f"failed items of run {run_id}")
    target = {k: v for k, v in run["spec"]["target"].items() if k not in RUN_CODE_KEYS}  # each run records its own
    definition = {**run["spec"], "target": target, "dataset_id": str(dataset.id), "dataset_version_id": str(version.id),
                  "config": without_baseline(run["spec"].get("config", {}))}  # fmt: skip
    experiment = app.create_experiment(name, f"Regression experiment from run {run_id}", definition, known_keys=False)
    svc.wait_for(experiment.position)
    result: dict[str, Any] = {
        "dataset_id": str(dataset.id),
        "dataset_version_id": str(version.id),
        "experiment_id": str(experiment.id),
        "items": len(items),
        "source_run_id": run_id,
        "run": None,
    }
    if start:
        result["run"] = start_run(svc, experiment.id, f"{name}-1", deployment_id, standby=standby)
    return result


def score_evidence(svc: Services, score_id: str, include: str) -> dict[str, Any]:
    """What a scorer saw, what it returned and its evidence; ``include`` is a comma-separated subset."""
    parts = [p.strip() for p in include.split(",") if p.strip()]
    unknown = [p for p in parts if p not in EVIDENCE_PARTS]
    if unknown or not parts:
        part = unknown[0] if unknown else ""
        raise Invalid(f"unknown part {part!r} (use {', '.join(EVIDENCE_PARTS)})", field="include")
    score = queries.score(svc.view, score_id)
    item = queries.run_item(svc.view, score["run_item_id"])
    run = queries.run(svc.view, score["run_id"])
    source = queries.dataset_item(svc.view, run["dataset_version_id"], item["dataset_item_id"])
    return evidence(score, item, source, parts)


def start_rescore(
    svc: Services,
    run_id: str,
    scorers: list[dict[str, Any]] | None,
    run_item_ids: list[str],
    reason: str = "",
    replace_latest: bool = False,
    idempotency_key: str = "",
    standby: Standby | None = None,
) -> dict[str, Any]:
    """Score a completed run's recorded outputs again in a worker; ``scorers`` None means the run's own (the
    Application refuses a run that is not completed)."""
    run = queries.run(svc.view, run_id)
    errors = queries.run_item_errors(svc.view, run_id)
    for item_id in run_item_ids:
        if item_id not in errors:
            raise NotFound(f"run item {item_id} is not part of run {run_id}", field="run_item_ids")
        if errors[item_id] is not None:
            raise Invalid(f"run item {item_id} errored before it had an output to score", field="run_item_ids")
    chosen = list(dict.fromkeys(run_item_ids))
    total = len(chosen) if chosen else sum(error is None for error in errors.values())
    written = svc.app.start_rescore(
        UUID(run_id), scorers or run["spec"]["scorers"], chosen, total, reason, replace_latest, idempotency_key
    )
    rescore_id = str(written.id)
    svc.wait_for(written.position)
    if queries.rescore(svc.view, rescore_id)["status"] == "running" and not is_owned(svc.settings, PREFIX + rescore_id):
        _hand(svc, PREFIX + rescore_id, standby)
    return rescore_summary(svc, rescore_id)


def rescore_summary(svc: Services, rescore_id: str) -> dict[str, Any]:
    """A rescore: status, counts, per-scorer aggregates of its scores, the items whose status changed."""
    row = queries.rescore(svc.view, rescore_id)
    flips = queries.rescore_flips(svc.view, rescore_id)
    scorers = [
        {**s, "mean_score": float(s["mean_score"] or 0.0)} for s in queries.rescore_scorers(svc.view, rescore_id)
    ]
    return {
        "id": row["id"], "run_id": row["run_id"], "status": row["status"], "reason": row["reason"],
        "replace_latest": bool(row["replace_latest"]), "total_items": row["total"], "done_items": row["done"],
        "passed_items": row["passed"], "failed_items": row["failed"], "errored_items": row["errored"],
        "scorers": scorers,
        "newly_passing": [f for f in flips if f["status"] == "passed"],
        "newly_failing": [f for f in flips if f["previous_status"] == "passed"],
        "failure": row["failure"], "created_at": row["created_at"], "finished_at": row["finished_at"],
    }  # fmt: skip


def rescore_progress(svc: Services, rescore_id: str) -> dict[str, Any]:
    """One look at a rescore for someone waiting on it (its status and counts), after giving a new worker to a
    rescore whose worker (started by this process) died."""
    row = queries.rescore(svc.view, rescore_id)
    if row["status"] == "running":
        _check_worker(svc, PREFIX + rescore_id)
    return {"id": row["id"], "status": row["status"], "total_items": row["total"], "done_items": row["done"],
            "passed_items": row["passed"], "failed_items": row["failed"], "errored_items": row["errored"]}  # fmt: skip


def wait_for_rescore(
    svc: Services,
    rescore_id: str,
    timeout: float | None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    poll: float = 0.05,
) -> dict[str, Any] | None:
    """Wait until the rescore is terminal and return its summary; None when the timeout passes first."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:  # polls the view, which the worker keeps current after each chunk
        try:
            row = queries.rescore(svc.view, rescore_id)
            if row["status"] != "running":
                return rescore_summary(svc, rescore_id)
            _check_worker(svc, PREFIX + rescore_id)
        except Exception as exc:
            if not _reconnected(svc, exc, deadline):
                return None
            continue
        if progress is not None:
            progress({"total_items": row["total"], "done_items": row["done"], "passed_items": row["passed"],
                      "failed_items": row["failed"], "errored_items": row["errored"]})  # fmt: skip
        if deadline is not None and time.monotonic() >= deadline:
            return None
        time.sleep(poll)


def annotate(
    svc: Services,
    run_id: str,
    run_item_id: str,
    name: str,
    label: str | None = None,
    score: Any = None,
    explanation: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Record a human annotation on one of a run's items (the Application checks it is); returns its row."""
    written = svc.app.annotate(UUID(run_id), run_item_id, name, label, score, explanation, metadata)
    svc.wait_for(written.position)
    return next(a for a in queries.run_annotations(svc.view, run_id, run_item_id) if a["id"] == str(written.id))


def agreement_report(svc: Services, run_id: str, name: str) -> dict[str, Any]:
    """How well each scorer of a run (and its item status) agrees with the human annotations named ``name``."""
    notes = queries.run_annotations(svc.view, run_id)
    names = sorted({a["name"] for a in notes})
    if not name:
        if len(names) != 1:
            raise Invalid(f"the run has annotations named {', '.join(names) or '(none)'}; choose one", field="name")
        name = names[0]
    elif name not in names:
        raise NotFound(f"run {run_id} has no annotations named {name!r}", field="name")
    return {"run_id": run_id, **agreement(queries.run_items(svc.view, run_id), notes, name)}
