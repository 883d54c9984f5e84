"""``agnt5 audit verify``: recompute every digest of the log and name the first event that does not match.

What is checked, from the stored events alone (never the read model):

- every aggregate's events are numbered 1, 2, 3 ... with no gap (a deleted event in the middle is named);
- a run's (and a rescore's) hash chain: ``Started`` against its own fields, each ``ChunkRecorded`` against the
  previous link and the items its chunk holds (each item also against the short digest its chunk recorded for it
  when it was saved, so an edited item is named), ``Completed`` against what ran and the results;
- a dataset version's chunks against the digests the version recorded, and its content digest against all items;
- a run's dataset digest against its dataset version's.

Runs, rescores and versions recorded before hash chains existed are listed as unchained, not as mismatches.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.domain import digests, ids
from agnt5_evals.domain.errors import NotFound
from agnt5_evals.domain.rescores import Rescore, RescoreChunk
from agnt5_evals.domain.runs import Run, completion_sources
from agnt5_evals.domain.tenancy import current_project
from agnt5_evals.projections.catchup import paced
from agnt5_evals.services.gcpause import collector_paused

BATCH = 2000
STATUSES = ("passed", "failed", "errored")


@dataclass(frozen=True)
class Stored:
    """One stored event, decoded as recorded (before any upcasting)."""

    name: str  # the event's class path, e.g. ``Run.ChunkRecorded``
    topic: str
    originator_id: UUID
    version: int
    payload: dict[str, Any]


class Mismatch(Exception):
    """The first event whose stored form does not match what the log's digests say."""

    def __init__(self, event: Stored | tuple[str, UUID, int], problem: str) -> None:
        super().__init__(problem)
        if isinstance(event, Stored):
            event = (event.topic, event.originator_id, event.version)
        self.topic, self.originator_id, self.version = event
        self.problem = problem


@dataclass
class Report:
    scope: str
    checked: Counter[str] = field(default_factory=Counter)
    unchained: list[dict[str, str]] = field(default_factory=list)
    digests: dict[str, str] = field(default_factory=dict)  # run or rescore id -> its last link
    mismatch: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.mismatch is None, "scope": self.scope, "checked": dict(self.checked),
            "unchained": self.unchained, "digests": self.digests, "mismatch": self.mismatch,
        }  # fmt: skip


class Log:
    """The stored events of one aggregate at a time, checked for gaps."""

    def __init__(self, svc: Services) -> None:
        self.recorder = svc.app.recorder
        self.decode = svc.app.mapper.transcoder.decode
        self.verified_versions: set[UUID] = set()

    def events(self, originator_id: UUID) -> list[Stored]:
        events = []
        for number, stored in enumerate(self.recorder.select_events(originator_id), start=1):
            if stored.originator_version != number:
                raise Mismatch((stored.topic, originator_id, number), _missing(number, stored.originator_version))
            name = stored.topic.partition(":")[2]
            events.append(Stored(name, stored.topic, originator_id, number, self.decode(stored.state)))
        return events


def _missing(expected: int, found: int) -> str:
    return f"event version {expected} is missing (the next stored one is {found})"


def verify(svc: Services, run_id: UUID | None = None) -> dict[str, Any]:
    """Verify one run (its chain, its rescores', its dataset version's) or, without ``run_id``, the whole log."""
    log = Log(svc)
    report = Report(scope=f"run {run_id}" if run_id else "all")
    with collector_paused():
        _verify(svc, log, report, run_id)
    return report.as_dict()


def _verify(svc: Services, log: Log, report: Report, run_id: UUID | None) -> None:
    try:
        if run_id is None:
            _verify_all(svc, log, report)
        else:
            if not log.recorder.select_events(run_id, limit=1):
                raise NotFound(f"run {run_id} not found", field="run_id")
            if current_project() is not None:  # another project's run is not found either
                svc.app.get(Run, run_id, "run", field="run_id")
            _verify_run(log, run_id, report)
            for rescore_id in _rescores_of(svc, run_id):
                _verify_rescore(log, rescore_id, report)
    except Mismatch as exc:
        report.mismatch = {
            "position": _position(svc, exc.originator_id, exc.version), "topic": exc.topic,
            "originator_id": str(exc.originator_id), "originator_version": exc.version, "problem": exc.problem,
        }  # fmt: skip


# -- the whole log ------------------------------------------------------------------------------------


def _notifications(svc: Services, topics: tuple[str, ...] = ()) -> Iterator[Any]:
    return paced(svc.app, 0, BATCH, topics=topics)


ROOTS = ("Run.Started", "Rescore.Started", "DatasetVersion.Created")
# The topics a rescore's start event is stored under: its class path, and the one of stores written before the
# one-package layout (``domain.<module>``, see ``domain/__init__.py``). Only those events are read to find a run's
# rescores, not the whole log (which holds the run's own 100,000 item events).
RESCORE_STARTED = (f"{get_topic(Rescore)}.Started", f"{get_topic(Rescore)}.Started".removeprefix("agnt5_evals."))


def _verify_all(svc: Services, log: Log, report: Report) -> None:
    """One pass for gaps in every aggregate's numbering, then every chain and every dataset version."""
    last: dict[UUID, int] = {}
    roots: dict[str, list[UUID]] = {name: [] for name in ROOTS}
    for notification in _notifications(svc):
        report.checked["events"] += 1
        originator, version = notification.originator_id, notification.originator_version
        expected = last.get(originator, 0) + 1
        if version != expected:
            raise Mismatch((notification.topic, originator, expected), _missing(expected, version))
        last[originator] = version
        name = notification.topic.partition(":")[2]
        if name in roots and version == 1:
            roots[name].append(originator)
    for version_id in roots["DatasetVersion.Created"]:
        _verify_version(log, version_id, report)
    for run_id in roots["Run.Started"]:
        _verify_run(log, run_id, report)
    for rescore_id in roots["Rescore.Started"]:
        _verify_rescore(log, rescore_id, report)


def _rescores_of(svc: Services, run_id: UUID) -> list[UUID]:
    """The rescores of a run, shadow ones included (only their start event names the run)."""
    decode = svc.app.mapper.transcoder.decode
    found = []
    for notification in _notifications(svc, RESCORE_STARTED):
        if notification.topic.endswith(":Rescore.Started") and str(decode(notification.state).get("run_id")) == str(
            run_id
        ):
            found.append(notification.originator_id)
    return found


def _position(svc: Services, originator_id: UUID, version: int) -> int | None:
    """The log position of an event (a scan: only done to name a mismatch)."""
    for notification in _notifications(svc):
        if notification.originator_id == originator_id and notification.originator_version >= version:
            return int(notification.id)
    return None


# -- chains -------------------------------------------------------------------------------------------


def _started(log: Log, kind: str, aggregate_id: UUID, report: Report) -> tuple[list[Stored], str | None]:
    events = log.events(aggregate_id)
    if not events or events[0].name != f"{kind}.Started":
        raise NotFound(f"{kind.lower()} {aggregate_id} not found", field=f"{kind.lower()}_id")
    start = events[0]
    recorded = start.payload.get("digest")
    report.checked[f"{kind.lower()}s"] += 1
    if recorded is None:
        report.unchained.append({"kind": kind.lower(), "id": str(aggregate_id), "why": "recorded before hash chains"})
        return events, None
    if digests.link(digests.GENESIS, digests.content(start.payload, without=("digest",))) != recorded:
        raise Mismatch(start, "its fields do not match the digest it records")
    return events, recorded


def _verify_run(log: Log, run_id: UUID, report: Report) -> None:
    events, chain = _started(log, "Run", run_id, report)
    if chain is None:
        return
    start = events[0].payload
    dataset_digest = start.get("dataset_digest")
    if dataset_digest is not None:
        version = _verify_version(log, UUID(str(start["dataset_version_id"])), report)
        if version is not None and version != dataset_digest:
            raise Mismatch(events[0], f"its dataset digest {dataset_digest} is not its dataset version's ({version})")
    counts = dict.fromkeys(STATUSES, 0)
    for event in events[1:]:
        if event.name == "Run.ChunkRecorded":
            chunk_id = ids.run_chunk_id(run_id, int(event.payload["chunk_no"]))
            chain = _verify_chunk(log, event, chain, chunk_id, "ItemRecorded", report)
            for status in STATUSES:
                counts[status] += int(event.payload[f"n_{status}"])
        elif event.name == "Run.Completed":
            sources = completion_sources(start["experiment_version_id"], start["spec"], dataset_digest, chain, counts)
            chain = _check_link(event, digests.completed(chain, sources), "what ran and the results")
    report.digests[str(run_id)] = chain


def _verify_rescore(log: Log, rescore_id: UUID, report: Report) -> None:
    events, chain = _started(log, "Rescore", rescore_id, report)
    if chain is None:
        return
    counts = dict.fromkeys(STATUSES, 0)
    for event in events[1:]:
        if event.name == "Rescore.ChunkRecorded":
            chunk_id = RescoreChunk.create_id(rescore_id, int(event.payload["chunk_no"]))
            chain = _verify_chunk(log, event, chain, chunk_id, "ItemRescored", report)
            for status in STATUSES:
                counts[status] += int(event.payload[f"n_{status}"])
        elif event.name == "Rescore.Completed":
            sources = {"run_id": str(events[0].payload["run_id"]), "results": chain, "counts": counts}
            chain = _check_link(event, digests.completed(chain, sources), "the rescored run and the results")
    report.digests[str(rescore_id)] = chain


def _check_link(event: Stored, expected: str, what: str) -> str:
    recorded = event.payload.get("digest")
    if recorded != expected:
        raise Mismatch(event, f"its digest {recorded} does not match {what} (recomputed: {expected})")
    return expected


def _verify_chunk(log: Log, recorded: Stored, previous: str, chunk_id: UUID, item: str, report: Report) -> str:
    """A chunk's link from its items; an item that does not match its short digest is named, else the link."""
    chunk_no, start, end = (int(recorded.payload[key]) for key in ("chunk_no", "start", "end"))
    events = log.events(chunk_id)
    items = list(_chunk_items(events[1:], item))
    if len(items) != end - start:
        raise Mismatch(recorded, f"its chunk {chunk_no} covers [{start}, {end}) but holds {len(items)} items")
    locators = events[0].payload.get("item_digests") or []
    hasher, first_bad, counts = hashlib.sha256(), None, dict.fromkeys(STATUSES, 0)
    for index, (event, payload, place) in enumerate(items):
        line = digests.canonical(payload) + b"\n"
        hasher.update(line)
        counts[str(payload.get("status"))] = counts.get(str(payload.get("status")), 0) + 1
        short = hashlib.sha256(line).hexdigest()[: digests.LOCATOR]
        if first_bad is None and (index >= len(locators) or locators[index] != short):
            first_bad = event, place
    report.checked["chunks"] += 1
    report.checked["items"] += len(items)
    chunk_counts = {status: int(recorded.payload[f"n_{status}"]) for status in STATUSES}
    expected = digests.chunk(previous, chunk_no, start, end, chunk_counts, hasher.hexdigest())
    if recorded.payload.get("digest") != expected:
        if first_bad is not None:
            raise Mismatch(first_bad[0], f"{first_bad[1]} does not match the digest recorded when it was saved")
        raise Mismatch(recorded, f"its digest does not match the previous link and its items (recomputed: {expected})")
    if first_bad is not None:
        raise Mismatch(
            events[0], f"the item digests it records do not match its items (first: version {first_bad[0].version}, "
            f"{first_bad[1]})",
        )  # fmt: skip
    if {status: counts.get(status, 0) for status in STATUSES} != chunk_counts:
        raise Mismatch(recorded, f"its counts {chunk_counts} are not its items' statuses {counts}")
    return expected


def _chunk_items(events: list[Stored], item: str) -> Iterator[tuple[Stored, dict[str, Any], str]]:
    """A chunk's items in order, each with its event and what names it in a mismatch: the event's own fields for
    one event per item (``ItemRecorded``, ``ItemRescored``), each item of a chunk's one ``ItemsRecorded``."""
    for event in events:
        if event.name.endswith(f".{item}"):
            yield event, digests.content(event.payload), "its payload"
        elif event.name == "RunChunk.ItemsRecorded":
            if set(digests.content(event.payload)) != {"items"}:
                raise Mismatch(event, "it holds fields other than its items")
            items = event.payload.get("items")
            if not isinstance(items, list) or not all(isinstance(one, dict) for one in items):
                raise Mismatch(event, "its items are not a list of objects")
            for index, one in enumerate(items):
                yield event, one, f"its item {index} (position {one.get('position')})"


def _verify_version(log: Log, version_id: UUID, report: Report) -> str | None:
    """A dataset version's chunks and content digest (once per version); its content digest, or None."""
    events = log.events(version_id)
    if not events:
        raise NotFound(f"dataset version {version_id} not found", field="dataset_version_id")
    created = events[0]
    recorded = created.payload.get("content_digest")
    if version_id in log.verified_versions or recorded is None:
        if recorded is None and version_id not in log.verified_versions:
            report.unchained.append({"kind": "dataset_version", "id": str(version_id),
                                     "why": "published before content digests"})  # fmt: skip
        log.verified_versions.add(version_id)
        return str(recorded) if recorded is not None else None
    chunk_digests = list(created.payload.get("chunk_digests") or [])
    whole, n_items = hashlib.sha256(), 0
    for index, chunk_id in enumerate(created.payload["chunk_ids"]):
        chunk = log.events(UUID(str(chunk_id)))
        part = hashlib.sha256()
        for item in chunk[0].payload["items"]:
            line = digests.canonical(item) + b"\n"
            part.update(line)
            whole.update(line)
            n_items += 1
        if index >= len(chunk_digests) or chunk_digests[index] != part.hexdigest():
            raise Mismatch(chunk[0], "its items do not match the digest its dataset version recorded")
    if n_items != int(created.payload["n_items"]) or whole.hexdigest() != recorded:
        raise Mismatch(created, f"its content digest {recorded} does not match its items")
    report.checked["dataset_versions"] += 1
    log.verified_versions.add(version_id)
    return str(recorded)
