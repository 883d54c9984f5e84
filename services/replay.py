"""Replay a finished run from the log alone: re-derive every score, the summary and the gate, and compare.

Nothing is executed and nothing calls out: outputs and traces come from the run's recorded items
(``ItemsRecorded``), the dataset items from the version's chunks, an LLM judge's answer from the request and
response recorded in its score's evidence (a recorded failure is failed again the same way), and the current scores
are the run's own overlaid by its replacing rescores in order, each replayed with the rescore's scorers. A custom
scorer is run again from its deployment in a child process (never in this one); one served over HTTP would need the
network and is reported as skipped. The summary and gate recomputed from the replayed scores are compared with the
read model's.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import orjson

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.domain.errors import Conflict
from agnt5_evals.domain.gates import item_status, pass_rate, verdict
from agnt5_evals.domain.model import DatasetVersion, Deployment
from agnt5_evals.domain.reports import gate_verdict
from agnt5_evals.domain.rescores import Rescore, RescoreChunk
from agnt5_evals.domain.runs import Run, RunChunk, chunk_items
from agnt5_evals.domain.scoring import BUILTINS, ScorerInput, run_scorer
from agnt5_evals.domain.scoring.judges import JudgeCallError
from agnt5_evals.services import operations
from agnt5_evals.services.gcpause import collector_paused
from agnt5_evals.services.scorer_cases import run_in_child
from agnt5_evals.worker.dispatch import jsonable

VERDICT = ("score", "passed", "label", "explanation", "metadata", "errored")  # what a score decides
VERDICT_EVIDENCE = (*VERDICT, "evidence")
VERDICT_GET, VERDICT_EVIDENCE_GET = operator.itemgetter(*VERDICT), operator.itemgetter(*VERDICT_EVIDENCE)
NO_ENDPOINT = "LLM call failed: no judge endpoint is configured"
FAILED_CALL = "LLM call failed: "
MAX_LISTED = 200  # mismatches listed in full (all are counted)


@dataclass
class Job:
    """One recorded score to derive again: the scorer, what it saw, and what was recorded.

    A built-in scorer's job is scored and compared as soon as it is built (``differences``), and then lets go of
    its input and the recorded score, so the item's decoded payload is freed while the next items are read; a
    custom scorer's waits for its child process, with its input."""

    run_item_id: str
    position: int
    spec: dict[str, Any]
    inp: ScorerInput | None
    recorded: dict[str, Any] | None
    source: str  # "run" or the replacing rescore's id
    replayed: dict[str, Any] | None = None
    note: str = ""
    differences: list[tuple[str, Any, Any]] | None = None


@dataclass
class Tally:
    total: int = 0
    matched: int = 0
    mismatched: int = 0
    skipped: int = 0


@dataclass
class Replay:
    run_id: str
    jobs: list[Job] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)  # run item id -> status under the replayed scores
    recorded_statuses: dict[str, str] = field(default_factory=dict)
    current: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # item -> key -> replayed score


def replay_run(svc: Services, run_id: UUID) -> dict[str, Any]:
    """Re-derive every score of a finished run from the log and compare; the report says what matched."""
    with collector_paused():
        return _replay(svc, run_id)


def _replay(svc: Services, run_id: UUID) -> dict[str, Any]:
    run = svc.app.get(Run, run_id, "run")
    if run.status == "running":
        raise Conflict(f"run {run_id} is running; replay a finished run", field="run_id")
    state = Replay(str(run.id))
    dataset = _dataset_items(svc, run.dataset_version_id)
    items = _recorded_items(svc, run, dataset)
    for item in items.values():  # the run's jobs in position order, then the rescores'
        state.recorded_statuses[item["run_item_id"]] = item["status"]
        state.jobs.extend(item.pop("jobs"))
    for rescore_id in run.rescores:  # replacing rescores, oldest first: what they recorded became current
        rescore = svc.app.get(Rescore, UUID(rescore_id), "rescore")
        specs = {s["key"]: s for s in rescore.scorers}
        for rescored in _events(svc, RescoreChunk, rescore.id, rescore.chunks, "RescoreChunk.ItemRescored"):
            item = {**orjson.loads(items[rescored["run_item_id"]]["state"]), "run_id": state.run_id}
            state.recorded_statuses[item["run_item_id"]] = rescored["status"]
            for recorded in rescored["scores"]:
                extra = {"rescore_id": str(rescore.id)}
                spec = specs[recorded["key"]]
                job = _job(item, dataset[item["dataset_item_id"]], spec, _judge(spec), recorded, rescore_id, extra)
                state.jobs.append(_score_builtin(job))
    _score_custom_all(svc, state.jobs)
    return _report(svc, run, items, state)


def _recorded_items(svc: Services, run: Run, dataset: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The run's recorded items by id, in position order, each with its jobs (built-in scorers' already scored
    and compared); of its payload only what the report needs is kept (and, when the run was rescored, its encoding,
    which a rescore of the item decodes again), so the 100,000 decoded payloads are never all held at once."""
    items: dict[str, dict[str, Any]] = {}
    run_id, keep = str(run.id), bool(run.rescores)
    scorers = [(spec, _judge(spec)) for spec in run.spec["scorers"]]
    for e in _run_items(svc, run):
        state = orjson.dumps(e) if keep else None
        e["run_id"] = run_id
        jobs = []
        if e["error"] is None:
            source, recorded_scores = dataset[e["dataset_item_id"]], e["scores"]
            for index, (spec, judge) in enumerate(scorers):
                recorded = recorded_scores[index] if index < len(recorded_scores) else {}
                jobs.append(_score_builtin(_job(e, source, spec, judge, recorded, "run", {})))
        items[e["run_item_id"]] = {
            "run_item_id": e["run_item_id"], "position": e["position"], "error": e["error"], "status": e["status"],
            "state": state if keep else None, "jobs": jobs,
        }  # fmt: skip
    return dict(sorted(items.items(), key=lambda pair: pair[1]["position"]))


def _dataset_items(svc: Services, version_id: UUID) -> dict[str, dict[str, Any]]:
    """The dataset version's items by id, read from its chunks' stored payloads (no aggregate is rebuilt)."""
    version = svc.app.get(DatasetVersion, version_id, "dataset version")
    decode, items = svc.app.mapper.transcoder.decode, dict[str, dict[str, Any]]()
    for chunk_id in version.chunk_ids:
        for stored in svc.app.recorder.select_events(UUID(chunk_id), limit=1):
            items.update((item["id"], item) for item in decode(stored.state)["items"])
    return items


def _run_items(svc: Services, run: Run) -> Iterator[dict[str, Any]]:
    """The run's recorded items as stored, chunk by chunk (decoded, never upcast: replay reads only fields every
    class version has): the items of each chunk's ``ItemsRecorded`` (or of its older ``ItemRecorded`` events)."""
    decode = svc.app.mapper.transcoder.decode
    for chunk_no in run.chunk_numbers():
        for stored in svc.app.recorder.select_events(RunChunk.create_id(run.id, chunk_no)):
            name = stored.topic.rpartition(":")[2]
            if name.startswith("RunChunk.Item"):
                yield from chunk_items(name, decode(stored.state))


def _events(svc: Services, cls: type[Any], owner: UUID, chunks: int, qualname: str) -> Iterator[dict[str, Any]]:
    """The payloads of a rescore's item events as stored, chunk by chunk (decoded, never upcast: replay reads only
    fields every class version has, and skips building event objects)."""
    decode, suffix = svc.app.mapper.transcoder.decode, f":{qualname}"
    for chunk_no in range(chunks):
        for stored in svc.app.recorder.select_events(cls.create_id(owner, chunk_no)):
            if stored.topic.endswith(suffix):
                yield decode(stored.state)


def _job(item: dict[str, Any], source: dict[str, Any], spec: dict[str, Any], judge: bool, recorded: dict[str, Any],
         origin: str, extra: dict[str, Any]) -> Job:  # fmt: skip
    """The scorer input exactly as the worker (or the rescore worker) built it."""
    inp = ScorerInput(
        output=item["output"], expected_output=source.get("expected_output"), input=source["input"],
        config=spec.get("config") or {}, events=item["events"],
        metadata={"run_id": item["run_id"], "run_item_id": item["run_item_id"],
                  "item_metadata": source.get("metadata") or {}, **extra},
        llm=recorded_llm(recorded) if judge else None,
    )  # fmt: skip
    return Job(item["run_item_id"], item["position"], spec, inp, recorded, origin)


def _judge(spec: dict[str, Any]) -> bool:
    """Whether a scorer calls an LLM judge (only those are given the recorded answers)."""
    builtin = BUILTINS.get(str(spec.get("name"))) if spec.get("type") != "custom" else None
    return builtin is not None and builtin.kind == "judge"


def recorded_llm(recorded: dict[str, Any]) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
    """An LLM that gives the recorded answer to the recorded request, or fails as the recorded call failed."""
    evidence = recorded.get("evidence") or {}
    explanation = str(recorded.get("explanation") or "")
    if explanation.startswith(NO_ENDPOINT):
        return None

    def answer(request: dict[str, Any]) -> dict[str, Any]:
        if request != evidence.get("judge_request"):
            raise JudgeCallError("provider_error", "replay: the judge request differs from the recorded one")
        if "judge_response" in evidence:
            response: dict[str, Any] = evidence["judge_response"]
            return response
        if explanation.startswith(FAILED_CALL):
            raise JudgeCallError(str(recorded.get("label")), explanation.removeprefix(FAILED_CALL))
        raise JudgeCallError("provider_error", "replay: no recorded judge response")

    return answer


def _score_builtin(job: Job) -> Job:
    """A built-in scorer's job scored and compared now, without its input and recorded score from then on (a custom
    scorer's job is returned as it is)."""
    if job.spec.get("type") == "custom" or job.inp is None:
        return job
    outcome = run_scorer(job.spec, job.inp)
    job.replayed = jsonable({**outcome.as_output(), "errored": outcome.errored, "evidence": outcome.evidence})
    job.differences = _compare(job)
    job.inp = job.recorded = None
    return job


def _score_custom_all(svc: Services, jobs: list[Job]) -> None:
    custom: dict[tuple[str, str], list[Job]] = {}
    for job in jobs:
        if job.spec.get("type") == "custom":  # one child process per scorer (of the run, or of one rescore)
            custom.setdefault((job.source, job.spec["key"]), []).append(job)
    for group in custom.values():
        _score_custom(svc, group)


def _score_custom(svc: Services, jobs: list[Job]) -> None:
    spec = jobs[0].spec
    deployment = svc.app.get(Deployment, UUID(spec["deployment_id"]), "deployment")
    if deployment.kind != "python":
        for job in jobs:
            job.note = f"skipped: custom scorer served over HTTP by deployment {deployment.id} (needs the network)"
        return
    inputs = [j.inp for j in jobs if j.inp is not None]
    cases = [
        {"output": i.output, "expected_output": i.expected_output, "input": i.input, "events": i.events,
         "metadata": i.metadata}
        for i in inputs
    ]  # fmt: skip
    for job, result in zip(jobs, run_in_child(spec, cases), strict=True):
        job.replayed = jsonable(result)


def _compare(job: Job) -> list[tuple[str, Any, Any]]:
    """The fields in which the replayed score differs from the recorded one (custom: the verdict only)."""
    assert job.replayed is not None and job.recorded is not None
    keys = VERDICT if job.spec.get("type") == "custom" else VERDICT_EVIDENCE
    getter = VERDICT_GET if keys is VERDICT else VERDICT_EVIDENCE_GET
    try:
        if getter(job.recorded) == getter(job.replayed):
            return []  # the common case, compared in one step
    except KeyError:
        pass  # a field is missing on one side: compared one by one below
    recorded = {k: job.recorded.get(k) for k in keys}
    replayed = {k: job.replayed.get(k) for k in keys}
    recorded["errored"], replayed["errored"] = bool(recorded["errored"]), bool(replayed["errored"])
    return [(k, recorded[k], replayed[k]) for k in keys if recorded[k] != replayed[k]]


def _report(svc: Services, run: Run, items: dict[str, dict[str, Any]], state: Replay) -> dict[str, Any]:
    tallies: dict[str, Tally] = {}
    mismatches: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for job in state.jobs:
        tally = tallies.setdefault(job.spec["key"], Tally())
        tally.total += 1
        if job.replayed is None:
            tally.skipped += 1
            skipped.append({"run_item_id": job.run_item_id, "scorer": job.spec["key"], "reason": job.note})
            continue
        state.current.setdefault(job.run_item_id, {})[job.spec["key"]] = job.replayed
        differences = job.differences if job.differences is not None else _compare(job)
        if differences:
            tally.mismatched += 1
            for name, recorded, replayed in differences:
                mismatches.append({"run_item_id": job.run_item_id, "position": job.position,
                                   "scorer": job.spec["key"], "source": job.source, "field": name,
                                   "recorded": recorded, "replayed": replayed})  # fmt: skip
        else:
            tally.matched += 1
    summary = _summary_check(svc, run, items, state)
    total = sum(t.total for t in tallies.values())
    matched = sum(t.matched for t in tallies.values())
    ok = matched == total and not summary["differences"]
    return {
        "run_id": str(run.id),
        "status": run.status,
        "items": len(items),
        "scores": total,
        "matched": matched,
        "mismatched": sum(t.mismatched for t in tallies.values()),
        "skipped": sum(t.skipped for t in tallies.values()),
        "scorers": [{"scorer": key, **dataclasses.asdict(t)} for key, t in tallies.items()],
        "mismatches": mismatches[:MAX_LISTED],
        "skipped_scores": skipped[:MAX_LISTED],
        "summary": summary,
        "ok": ok,
    }


def _summary_check(svc: Services, run: Run, items: dict[str, dict[str, Any]], state: Replay) -> dict[str, Any]:
    """Counts, pass rate, gate and per-scorer aggregates from the replayed scores, against the read model."""
    counts = {"passed": 0, "failed": 0, "errored": 0}
    scorers: dict[str, dict[str, int]] = {}
    for item in items.values():
        current = state.current.get(item["run_item_id"], {})
        status = item_status(item["error"], current.values()) if item["error"] is None else "errored"
        if item["error"] is None and len(current) < len(run.spec["scorers"]):
            status = state.recorded_statuses[item["run_item_id"]]  # a skipped score: keep the recorded verdict
        counts[status] += 1
        for key, score in current.items():
            agg = scorers.setdefault(key, {"n": 0, "sum_e9": 0, "passed": 0, "failed": 0, "errored": 0})
            passed, errored = bool(score["passed"]), bool(score["errored"])
            agg["n"] += 1
            agg["sum_e9"] += round(float(score["score"]) * 1e9)
            agg["passed"] += int(passed)
            agg["failed"] += int(not passed and not errored)
            agg["errored"] += int(errored)
    aggregates = {key: {"mean_score": a["sum_e9"] / 1e9 / a["n"] if a["n"] else None, "passed": a["passed"],
                        "failed": a["failed"], "errored": a["errored"], "pass_rate": pass_rate(a["passed"], a["n"])}
                  for key, a in sorted(scorers.items())}  # fmt: skip
    rows = [{"scorer": key, **a} for key, a in aggregates.items()]
    gate = verdict(run.status, run.total, counts["passed"], run.spec.get("config", {}), rows)
    derived = {
        "passed_items": counts["passed"], "failed_items": counts["failed"], "errored_items": counts["errored"],
        "pass_rate": gate.pass_rate, "gate_passed": gate_verdict(gate), "scorers": aggregates,
    }  # fmt: skip
    view = operations.summary(svc, str(run.id), detail=False)
    shown = {
        "passed_items": view["passed_items"], "failed_items": view["failed_items"],
        "errored_items": view["errored_items"], "pass_rate": view["pass_rate"], "gate_passed": _own_gate(view),
        "scorers": {s["scorer"]: {k: s[k] for k in ("mean_score", "passed", "failed", "errored", "pass_rate")}
                    for s in sorted(view["scorers"], key=lambda s: s["scorer"])},
    }  # fmt: skip
    differences = [{"field": k, "log": derived[k], "view": shown[k]} for k in derived if derived[k] != shown[k]]
    return {"derived": derived, "view": shown, "differences": differences}


def _own_gate(summary: dict[str, Any]) -> bool:
    """The view's gate on the run's own results: every rule but the baseline's (which reads another run)."""
    gate = summary["gate"]
    own = [r for r in gate.get("rules", []) if r["rule"] != "max_regression"]
    if len(own) == len(gate.get("rules", [])):
        return bool(gate["passed"])
    return summary["status"] == "completed" and summary["total_items"] > 0 and all(r["passed"] for r in own)
