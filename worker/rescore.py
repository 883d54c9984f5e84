"""Execute a rescore (domain/rescores.py): score a completed run's recorded outputs again and record the results.

Nothing is executed again: outputs and traces come from the run's recorded items (``ItemsRecorded``), the current
scores from those events overlaid by the run's replacing rescores in order. Results are recorded in chunks like a
run's, so a killed rescore resumes where it stopped (``agnt5 worker``) and records nothing twice.
"""

from __future__ import annotations

import concurrent.futures
import functools
import traceback
from typing import Any
from uuid import UUID

import orjson

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.adapters.bundles import code_path
from agnt5_evals.domain import ids
from agnt5_evals.domain.errors import Conflict
from agnt5_evals.domain.gates import item_status
from agnt5_evals.domain.model import DatasetVersion, Deployment
from agnt5_evals.domain.rescores import Rescore, RescoreChunk
from agnt5_evals.domain.runs import Run, RunChunk, chunk_items
from agnt5_evals.domain.scoring import ScorerInput
from agnt5_evals.worker.dispatch import MAX_CHUNK_BYTES, MAX_ITEM_BYTES, jsonable, log
from agnt5_evals.worker.scoring import ScorerRuntime

WINDOW = 100  # items scored between two saves (at most; a chunk is also cut at MAX_CHUNK_BYTES)
PREFIX = "rescore:"  # a worker's target names a rescore with this prefix, a run without


class RescoreExecutor:
    """Drives one rescore to a terminal state; the only writer of that rescore while it executes."""

    def __init__(self, services: Services, rescore_id: UUID) -> None:
        self.services = services
        self.app = services.app
        self.rescore_id = rescore_id
        self.scoring = ScorerRuntime(
            lambda deployment_id: self.app.get(Deployment, deployment_id, "deployment"),
            lambda deployment: code_path(self.app, services.settings.home, deployment),
        )

    def execute(self) -> str:
        rescore = self.app.get(Rescore, self.rescore_id, "rescore")
        if rescore.status != "running":
            self.services.catch_up_quietly()  # a relaunched worker of a finished rescore: bring the view up to date
            return str(rescore.status)
        try:
            run = self.app.get(Run, rescore.run_id, "run")
            selection = self._selection(rescore, run)
            left = rescore.total - rescore.next_position
            log(f"rescore {rescore.id} of run {run.id}: {left} of {rescore.total} items to score")
            concurrency = int(run.spec.get("config", {}).get("concurrency", 8))
            with concurrent.futures.ThreadPoolExecutor(concurrency, thread_name_prefix="rescore") as pool:
                while rescore.next_position < rescore.total:
                    if self.app.repository.get(rescore.id).version != rescore.version:
                        return self._stopped()  # cancelled before this window
                    window = selection[rescore.next_position : rescore.next_position + WINDOW]
                    records = list(pool.map(functools.partial(self._rescored, rescore, run), window))
                    while records:
                        try:
                            records = self._record(rescore, records)
                        except Conflict:  # cancelled meanwhile: what is recorded stays, the rest is dropped
                            return self._stopped()
            self.app.complete_rescore(rescore.id)
        except Exception as exc:
            traceback.print_exc()
            if self.app.get(Rescore, self.rescore_id, "rescore").status == "running":
                self.app.fail_rescore(self.rescore_id, f"{type(exc).__name__}: {exc}"[:500])
        finally:
            self.scoring.close()
            self.services.catch_up_quietly()  # each command caught up already; this retries one that could not
        return str(self.app.get(Rescore, self.rescore_id, "rescore").status)

    def _stopped(self) -> str:
        """The rescore was ended by someone else (a cancel): stop, or re-raise if it is in fact still running."""
        rescore = self.app.get(Rescore, self.rescore_id, "rescore")
        if rescore.status == "running":
            raise RuntimeError(f"rescore {rescore.id} was recorded by another worker at the same time")
        log(f"rescore {rescore.id}: {rescore.status}")
        return str(rescore.status)

    # -- what to rescore -----------------------------------------------------------------------------

    def _selection(self, rescore: Rescore, run: Run) -> list[dict[str, Any]]:
        """The chosen run items (or every item with an output) in position order, with their current scores."""
        items: dict[str, dict[str, Any]] = {}
        for chunk_no in run.chunk_numbers():
            e: Any
            for e in self.app.events.get(RunChunk.create_id(run.id, chunk_no)):
                for i in chunk_items(type(e).__qualname__, vars(e)):
                    items[i["run_item_id"]] = {
                        "run_item_id": i["run_item_id"], "dataset_item_id": i["dataset_item_id"],
                        "position": i["position"], "output": i["output"], "error": i["error"], "events": i["events"],
                        "status": i["status"],
                        "scores": {s["key"]: {**s, "index": n} for n, s in enumerate(i["scores"])},
                    }  # fmt: skip
        for rescore_id in run.rescores:  # replacing rescores, oldest first: what they recorded is current
            earlier = self.app.get(Rescore, UUID(rescore_id), "rescore")
            for chunk_no in range(earlier.chunks):
                for e in self.app.events.get(RescoreChunk.create_id(earlier.id, chunk_no)):
                    if type(e).__qualname__ == "RescoreChunk.ItemRescored":
                        item = items[e.run_item_id]
                        item["status"] = e.status
                        item["scores"].update({s["key"]: s for s in e.scores})
        chosen = set(rescore.run_item_ids)
        selection = sorted(
            (item for item in items.values() if (item["run_item_id"] in chosen if chosen else item["error"] is None)),
            key=lambda item: item["position"],
        )
        if len(selection) != rescore.total:
            raise RuntimeError(f"expected {rescore.total} items to rescore, found {len(selection)} in run {run.id}")
        version = self.app.get(DatasetVersion, run.dataset_version_id, "dataset version")
        by_id = {item["id"]: item for item in self.app.version_items(version)}
        for item in selection:
            item["dataset_item"] = by_id[item["dataset_item_id"]]
        return selection

    # -- scoring and recording ------------------------------------------------------------------------

    def _rescored(self, rescore: Rescore, run: Run, item: dict[str, Any]) -> dict[str, Any]:
        """One item's ``ItemRescored`` record: the new scores, the scores they replace, the new status."""
        current: dict[str, dict[str, Any]] = dict(item["scores"])
        source = item["dataset_item"]
        new = []
        for spec in rescore.scorers:
            key = spec["key"]
            last = max((s["index"] for s in current.values()), default=-1)
            index = current[key]["index"] if key in current else last + 1
            inp = ScorerInput(
                output=item["output"], expected_output=source.get("expected_output"), input=source["input"],
                config=spec.get("config") or {}, events=item["events"],
                metadata={"run_id": str(run.id), "run_item_id": item["run_item_id"],
                          "item_metadata": source.get("metadata") or {}, "rescore_id": str(rescore.id)},
            )  # fmt: skip
            outcome = self.scoring.score(spec, inp)
            score = jsonable({
                "id": ids.uuid5_str(UUID(item["run_item_id"]), f"rescore-{rescore.id}-{key}"), "key": key,
                "index": index, "name": spec["name"], "config": spec.get("config") or {}, **outcome.as_output(),
                "errored": outcome.errored, "evidence": outcome.evidence,
            })  # fmt: skip
            new.append(score)
            current[key] = score
        replaced = [_brief(item["scores"][s["key"]]) for s in new if s["key"] in item["scores"]]
        status = item_status(None, sorted(current.values(), key=lambda s: s["index"]))
        record = {
            "rescore_id": str(rescore.id), "run_id": str(run.id), "run_item_id": item["run_item_id"],
            "position": item["position"], "scores": new, "status": status, "previous_status": item["status"],
            "replaced": replaced if rescore.replace_latest else [], "applied": rescore.replace_latest,
        }  # fmt: skip
        if len(orjson.dumps(record)) > MAX_ITEM_BYTES:  # keep the verdicts, drop the evidence that made it too big
            for score in new:
                score["evidence"] = {"dropped": f"evidence over {MAX_ITEM_BYTES:,} bytes was not recorded"}
        return record

    def _record(self, rescore: Rescore, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Save the next chunk (by count and bytes) of ``records``; return the ones left for the next chunk."""
        size, end = 0, 0
        while end < len(records):
            size += len(orjson.dumps(records[end]))
            if end and size > MAX_CHUNK_BYTES:
                break
            end += 1
        self.app.record_rescore_chunk(rescore, records[:end])
        return records[end:]


def _brief(score: dict[str, Any]) -> dict[str, Any]:
    """What the read model needs of a replaced score to take it out of the run's aggregates."""
    return {key: score.get(key) for key in ("id", "key", "index", "score", "passed", "errored")}
