"""Pure functions from one domain event to the row operations that fold it into the read model.

An operation is ``(sql, params)``; SQL uses ``{p}`` for the table prefix and ``?`` placeholders. No
business rules here: values are copied, counted and summed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson

from agnt5_evals.projections.traces import compact

Op = tuple[str, tuple[Any, ...]]


def j(value: Any) -> str:
    return orjson.dumps(value).decode()


def _at(event: Any) -> str:
    return str(event.timestamp.isoformat())


def _item_row(item: dict[str, Any]) -> tuple[Any, ...]:
    return (
        item["id"],
        j(item["input"]),
        j(item.get("expected_output")),
        j(item.get("metadata") or {}),
        j(item.get("events") or []),
        item.get("split"),
    )


SEQ_STEP = 10**9  # a draft row's seq: the event's version * SEQ_STEP + the item's place in the event (or upload)
INSERT_DATASET = "INSERT INTO {p}datasets VALUES (?, ?, ?, ?, 0, 0, ?, ?, 0)"
INSERT_DRAFT_ITEM = (  # later wins on a repeated id, as in the Dataset aggregate (old logs may hold one)
    "INSERT INTO {p}draft_items VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dataset_id, item_id) DO UPDATE SET "
    "seq = excluded.seq, input = excluded.input, expected_output = excluded.expected_output, "
    "metadata = excluded.metadata, events = excluded.events, split = excluded.split"
)
COUNT_DRAFT = "UPDATE {p}datasets SET draft_items = draft_items + ? WHERE id = ?"
SET_VERSIONS = "UPDATE {p}datasets SET versions = ? WHERE id = ?"
CLEAR_DRAFT = "DELETE FROM {p}draft_items WHERE dataset_id = ?"
COPY_VERSION_TO_DRAFT = (
    "INSERT INTO {p}draft_items SELECT ?, item_id, ? + position, input, expected_output, metadata, events, split "
    "FROM {p}dataset_items WHERE version_id = ? AND live = 1"
)
SET_DRAFT_COUNT = "UPDATE {p}datasets SET draft_items = ? WHERE id = ?"
INSERT_UPLOAD_ITEM = "INSERT INTO {p}upload_items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
COPY_UPLOAD_TO_DRAFT = (  # a committed upload's staged rows join the draft after its earlier items
    "INSERT INTO {p}draft_items SELECT ?, item_id, ? + position, input, expected_output, metadata, events, split "
    "FROM {p}upload_items WHERE upload_id = ? ON CONFLICT (dataset_id, item_id) DO UPDATE SET "
    "seq = excluded.seq, input = excluded.input, expected_output = excluded.expected_output, "
    "metadata = excluded.metadata, events = excluded.events, split = excluded.split"
)
DROP_UPLOAD_ITEMS = "DELETE FROM {p}upload_items WHERE upload_id = ?"
REMOVE_DRAFT_ITEM = "DELETE FROM {p}draft_items WHERE dataset_id = ? AND item_id = ?"
INSERT_VERSION_ITEM = (  # a chunk saved after its version exists is a losing (or crashed) publish's: ignored
    "INSERT INTO {p}dataset_items SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, 0 "
    "WHERE NOT EXISTS (SELECT 1 FROM {p}dataset_versions WHERE id = ?) "
    "ON CONFLICT (version_id, chunk_id, position) DO NOTHING"
)
INSERT_VERSION = "INSERT INTO {p}dataset_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
MARK_LIVE_CHUNK = "UPDATE {p}dataset_items SET live = 1 WHERE version_id = ? AND chunk_id = ?"
DROP_DEAD_ITEMS = "DELETE FROM {p}dataset_items WHERE version_id = ? AND live = 0"
INSERT_DEPLOYMENT = "INSERT INTO {p}deployments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)"
ARCHIVE_DEPLOYMENT = "UPDATE {p}deployments SET archived = 1 WHERE id = ?"
INSERT_SCORER = "INSERT INTO {p}scorers VALUES (?, ?, ?, ?, ?, ?, ?)"
INSERT_EXPERIMENT = "INSERT INTO {p}experiments VALUES (?, ?, ?, ?, ?, ?, 1, 0, NULL, ?, ?, ?, 0)"
SET_ARCHIVED = {  # Dataset.Archived ... Experiment.Unarchived: the flag, as the aggregate has it
    (table, flag): f"UPDATE {{p}}{table} SET archived = {flag} WHERE id = ?"
    for table in ("datasets", "experiments")
    for flag in (0, 1)
}
UPDATE_DEFINITION = (
    "UPDATE {p}experiments SET definition = ?, dataset_id = ?, dataset_version_id = ?, "
    "revision = revision + 1, updated_at = ? WHERE id = ?"
)
SET_LATEST_VERSION = "UPDATE {p}experiments SET versions = ?, latest_version_id = ? WHERE id = ?"
INSERT_EXPERIMENT_VERSION = "INSERT INTO {p}experiment_versions VALUES (?, ?, ?, ?, ?, ?)"
INSERT_RUN = "INSERT INTO {p}runs VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, 0, 0, 0, 0, NULL, ?, NULL, ?)"
COUNT_CHUNK = (
    "UPDATE {p}runs SET done = done + ?, passed = passed + ?, failed = failed + ?, errored = errored + ? WHERE id = ?"
)
FINISH_RUN = "UPDATE {p}runs SET status = ?, reason = ?, finished_at = ? WHERE id = ?"
INSERT_RUN_ITEM = "INSERT INTO {p}run_items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
INSERT_SCORE = "INSERT INTO {p}scores VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
UNMARK_SCORE = "UPDATE {p}scores SET is_current = 0 WHERE id = ?"
SET_ITEM_STATUS = "UPDATE {p}run_items SET status = ? WHERE id = ?"
INSERT_RESCORE = "INSERT INTO {p}rescores VALUES (?, ?, 'running', ?, ?, ?, ?, ?, 0, 0, 0, 0, NULL, ?, NULL, ?)"
COUNT_RESCORE_CHUNK = (
    "UPDATE {p}rescores SET done = done + ?, passed = passed + ?, failed = failed + ?, errored = errored + ? "
    "WHERE id = ?"
)
FINISH_RESCORE = "UPDATE {p}rescores SET status = ?, failure = ?, finished_at = ? WHERE id = ?"
INSERT_RESCORE_ITEM = "INSERT INTO {p}rescore_items VALUES (?, ?, ?, ?, ?)"
INSERT_ANNOTATION = "INSERT INTO {p}annotations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
INSERT_PROMPT = "INSERT INTO {p}prompts VALUES (?, ?, ?, 0, NULL, ?, ?, ?)"
INSERT_PROJECT = "INSERT INTO {p}projects VALUES (?, ?, ?)"
SET_PROMPT_LATEST = "UPDATE {p}prompts SET versions = ?, latest_version_id = ?, updated_at = ? WHERE id = ?"
INSERT_PROMPT_VERSION = "INSERT INTO {p}prompt_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
ADD_RUN_SCORER = (  # (run, key, index, n, score, passed, failed, errored): n = -1 takes a replaced score out
    "INSERT INTO {p}run_scorers VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, scorer_key) DO UPDATE SET "
    "n = {p}run_scorers.n + excluded.n, sum_score_e9 = {p}run_scorers.sum_score_e9 + excluded.sum_score_e9, "
    "n_passed = {p}run_scorers.n_passed + excluded.n_passed, "
    "n_failed = {p}run_scorers.n_failed + excluded.n_failed, "
    "n_errored = {p}run_scorers.n_errored + excluded.n_errored"
)


def _project(e: Any) -> str:
    """The project an event's aggregate belongs to (its create events record it; upcasting gives old ones
    ``default``)."""
    return str(getattr(e, "project_id", None) or "default")


def _dataset_created(e: Any) -> Iterator[Op]:
    yield INSERT_DATASET, (str(e.originator_id), e.name, e.description, j(e.metadata), _at(e), _project(e))


def _items_added(e: Any) -> Iterator[Op]:
    base = e.originator_version * SEQ_STEP
    for n, item in enumerate(e.items):
        yield INSERT_DRAFT_ITEM, (str(e.originator_id), item["id"], base + n, *_item_row(item)[1:])
    yield COUNT_DRAFT, (len(e.items), str(e.originator_id))


def _draft_restored(e: Any) -> Iterator[Op]:
    did = str(e.originator_id)  # restored rows sort before the items added later (seq >= next version * SEQ_STEP)
    yield CLEAR_DRAFT, (did,)
    yield COPY_VERSION_TO_DRAFT, (did, e.originator_version * SEQ_STEP - e.n_items, str(e.version_id))
    yield SET_DRAFT_COUNT, (e.n_items, did)


def _upload_chunk(e: Any) -> Iterator[Op]:
    uid, cid = str(e.upload_id), str(e.originator_id)
    for n, item in enumerate(e.items):
        yield INSERT_UPLOAD_ITEM, (uid, e.start + n, cid, *_item_row(item))


def _upload_committed(e: Any) -> Iterator[Op]:
    did, uid = str(e.originator_id), str(e.upload_id)  # the upload's chunks are all staged before its commit
    yield COPY_UPLOAD_TO_DRAFT, (did, e.originator_version * SEQ_STEP, uid)
    yield DROP_UPLOAD_ITEMS, (uid,)
    yield COUNT_DRAFT, (e.n_items, did)


def _items_removed(e: Any) -> Iterator[Op]:
    did = str(e.originator_id)
    for item_id in e.item_ids:
        yield REMOVE_DRAFT_ITEM, (did, item_id)
    yield COUNT_DRAFT, (-len(e.item_ids), did)


def _version_published(e: Any) -> Iterator[Op]:
    yield SET_VERSIONS, (e.number, str(e.originator_id))


def _version_chunk(e: Any) -> Iterator[Op]:
    for n, item in enumerate(e.items):
        vid = str(e.dataset_version_id)
        yield INSERT_VERSION_ITEM, (vid, e.start + n, str(e.originator_id), *_item_row(item), vid)


def _version_created(e: Any) -> Iterator[Op]:
    vid = str(e.originator_id)
    yield INSERT_VERSION, (
        vid, str(e.dataset_id), e.number, e.description, j(e.metadata), e.n_items, _at(e), _project(e),
    )  # fmt: skip
    for chunk_id in e.chunk_ids:  # the version's own chunks; others are a crashed or losing publish's
        yield MARK_LIVE_CHUNK, (vid, str(chunk_id))
    yield DROP_DEAD_ITEMS, (vid,)


def _deployment_created(e: Any) -> Iterator[Op]:
    yield INSERT_DEPLOYMENT, (
        str(e.originator_id), e.name, e.kind, e.module, e.path, e.url, j(e.components), _at(e), int(e.editable),
        e.bundle_digest, e.bundle_size, e.bundle_files, j(e.include), j(e.exclude), e.build, _project(e),
    )  # fmt: skip


def _deployment_archived(e: Any) -> Iterator[Op]:
    yield ARCHIVE_DEPLOYMENT, (str(e.originator_id),)


def _set_archived(table: str, flag: int) -> Callable[[Any], Iterator[Op]]:
    def handle(e: Any) -> Iterator[Op]:
        yield SET_ARCHIVED[table, flag], (str(e.originator_id),)

    return handle


def _scorer_created(e: Any) -> Iterator[Op]:
    yield INSERT_SCORER, (
        str(e.originator_id), e.name, e.description, str(e.deployment_id), e.component_name, _at(e), _project(e),
    )  # fmt: skip


def _experiment_created(e: Any) -> Iterator[Op]:
    d, eid, at = e.definition, str(e.originator_id), _at(e)
    yield INSERT_EXPERIMENT, (
        eid, e.name, e.description, d["dataset_id"], d["dataset_version_id"], j(d), at, at, _project(e),
    )  # fmt: skip


def _definition_updated(e: Any) -> Iterator[Op]:
    d = e.definition
    yield UPDATE_DEFINITION, (j(d), d["dataset_id"], d["dataset_version_id"], _at(e), str(e.originator_id))


def _version_snapshotted(e: Any) -> Iterator[Op]:
    yield SET_LATEST_VERSION, (e.number, str(e.version_id), str(e.originator_id))


def _experiment_version_created(e: Any) -> Iterator[Op]:
    yield INSERT_EXPERIMENT_VERSION, (
        str(e.originator_id), str(e.experiment_id), e.number, j(e.definition), _at(e), _project(e),
    )  # fmt: skip


def _run_started(e: Any) -> Iterator[Op]:
    yield INSERT_RUN, (
        str(e.originator_id), str(e.experiment_id), str(e.experiment_version_id), str(e.dataset_id),
        str(e.dataset_version_id), e.name, j(e.spec), e.n_items * e.repetitions, _at(e), _project(e),
    )  # fmt: skip


def _chunk_recorded(e: Any) -> Iterator[Op]:
    yield COUNT_CHUNK, (e.end - e.start, e.n_passed, e.n_failed, e.n_errored, str(e.originator_id))


def _finished(status: str) -> Callable[[Any], Iterator[Op]]:
    def handle(e: Any) -> Iterator[Op]:
        yield FINISH_RUN, (status, getattr(e, "reason", None), _at(e), str(e.originator_id))

    return handle


def item_ops(item: Mapping[str, Any], at: str) -> list[Op]:
    """A recorded run item's row, each score's row and its share of the run's per-scorer aggregates (``_score_rows``,
    inlined: once per item and score of every run recorded or rebuilt). ``item``: an item of a chunk's
    ``ItemsRecorded`` (or an older ``ItemRecorded``'s fields); ``at``: its event's time, the scores' ``created_at``."""
    run_id, run_item_id, position = item["run_id"], item["run_item_id"], item["position"]
    ops: list[Op] = [
        (INSERT_RUN_ITEM, (
            run_item_id, run_id, position, item["dataset_item_id"], item["repetition"], item["status"],
            j(item["output"]), item["error"], j(compact(item["events"])), item["started_at"], item["duration_ms"],
            item["attempts"], item["tokens"],
        )),
    ]  # fmt: skip
    for index, s in enumerate(item["scores"]):
        score, passed, errored = s["score"], bool(s["passed"]), bool(s.get("errored"))
        ops.append((INSERT_SCORE, (
            s["id"], run_id, run_item_id, position, index, s["key"], s["name"], j(s.get("config") or {}), score,
            int(passed), int(errored), s.get("label"), s.get("explanation"), j(s.get("metadata") or {}),
            j(s.get("evidence") or {}), at, None, 1,
        )))  # fmt: skip
        ops.append((ADD_RUN_SCORER, (
            run_id, s["key"], index, 1, round(float(score) * 1e9), int(passed), int(not passed and not errored),
            int(errored),
        )))  # fmt: skip
    return ops


def _items_recorded(e: Any) -> Iterator[Op]:
    at = _at(e)
    for item in e.items:
        yield from item_ops(item, at)


def _item_recorded(e: Any) -> Iterator[Op]:
    """A chunk's item recorded before ``ItemsRecorded`` existed (one event per item)."""
    yield from item_ops(vars(e), _at(e))


def _score_rows(run_id: str, run_item_id: str, position: int, index: int, s: dict[str, Any], at: str,
                rescore_id: str | None, current: bool) -> Iterator[Op]:  # fmt: skip
    """A score's row and, when it is current, its share of the run's per-scorer aggregates."""
    passed, errored = bool(s["passed"]), bool(s.get("errored"))
    yield INSERT_SCORE, (
        s["id"], run_id, run_item_id, position, index, s["key"], s["name"], j(s.get("config") or {}), s["score"],
        int(passed), int(errored), s.get("label"), s.get("explanation"), j(s.get("metadata") or {}),
        j(s.get("evidence") or {}), at, rescore_id, int(current),
    )  # fmt: skip
    if current:
        yield ADD_RUN_SCORER, (run_id, s["key"], index, 1, *_outcome(s))


def _outcome(s: dict[str, Any]) -> tuple[int, int, int, int]:
    """A score's share of its scorer's aggregates. The score is summed as an integer of 1e-9 units: integer
    sums are exact, so any grouping of increments and decrements (catch-up, rebuild) gives the same total."""
    passed, errored = bool(s["passed"]), bool(s.get("errored"))
    return round(float(s["score"]) * 1e9), int(passed), int(not passed and not errored), int(errored)


def _rescore_started(e: Any) -> Iterator[Op]:
    yield INSERT_RESCORE, (
        str(e.originator_id), str(e.run_id), e.reason, j(e.scorers), len(e.run_item_ids), int(e.replace_latest),
        e.total, _at(e), _project(e),
    )  # fmt: skip


def _rescore_chunk(e: Any) -> Iterator[Op]:
    yield COUNT_RESCORE_CHUNK, (e.end - e.start, e.n_passed, e.n_failed, e.n_errored, str(e.originator_id))


def _rescore_finished(status: str) -> Callable[[Any], Iterator[Op]]:
    def handle(e: Any) -> Iterator[Op]:
        yield FINISH_RESCORE, (status, getattr(e, "reason", None), _at(e), str(e.originator_id))

    return handle


def _item_rescored(e: Any) -> Iterator[Op]:
    at = _at(e)
    yield INSERT_RESCORE_ITEM, (e.rescore_id, e.run_item_id, e.position, e.status, e.previous_status)
    for s in e.scores:
        yield from _score_rows(e.run_id, e.run_item_id, e.position, s["index"], s, at, e.rescore_id, e.applied)
    if e.applied:
        for old in e.replaced:
            yield UNMARK_SCORE, (old["id"],)
            score, passed, failed, errored = _outcome(old)
            yield ADD_RUN_SCORER, (e.run_id, old["key"], old["index"], -1, -score, -passed, -failed, -errored)
        yield SET_ITEM_STATUS, (e.status, e.run_item_id)


def _annotation_created(e: Any) -> Iterator[Op]:
    yield INSERT_ANNOTATION, (
        str(e.originator_id), str(e.run_id), e.run_item_id, e.name, e.label, e.score, e.explanation, j(e.metadata),
        _at(e), _project(e),
    )  # fmt: skip


def _chunk_rescored(e: Any) -> Iterator[Op]:
    yield COUNT_CHUNK, (0, e.d_passed, e.d_failed, e.d_errored, str(e.originator_id))


def _prompt_created(e: Any) -> Iterator[Op]:
    yield INSERT_PROMPT, (str(e.originator_id), e.name, e.description, _at(e), _at(e), _project(e))


def _project_created(e: Any) -> Iterator[Op]:
    yield INSERT_PROJECT, (e.project_id, e.name, _at(e))


def _prompt_version_added(e: Any) -> Iterator[Op]:
    yield SET_PROMPT_LATEST, (e.number, str(e.version_id), _at(e), str(e.originator_id))


def _prompt_version_created(e: Any) -> Iterator[Op]:
    yield INSERT_PROMPT_VERSION, (
        str(e.originator_id), str(e.prompt_id), e.number, e.model, j(e.messages), j(e.parameters), e.output_format,
        j(e.response_schema), _at(e), _project(e),
    )  # fmt: skip


def _nothing(e: Any) -> Iterator[Op]:
    return iter(())


HANDLERS: dict[str, Callable[[Any], Iterator[Op]]] = {
    "Dataset.Created": _dataset_created,
    "Dataset.ItemsAdded": _items_added,
    "Dataset.VersionPublished": _version_published,
    "Dataset.DraftRestored": _draft_restored,
    "Dataset.ItemsRemoved": _items_removed,
    "Dataset.UploadCommitted": _upload_committed,
    "UploadChunk.Created": _upload_chunk,
    "DatasetVersionChunk.Created": _version_chunk,
    "DatasetVersion.Created": _version_created,
    "Deployment.Created": _deployment_created,
    "Deployment.Archived": _deployment_archived,
    "Dataset.Archived": _set_archived("datasets", 1),
    "Dataset.Unarchived": _set_archived("datasets", 0),
    "Experiment.Archived": _set_archived("experiments", 1),
    "Experiment.Unarchived": _set_archived("experiments", 0),
    "BundleChunk.Created": _nothing,
    "Bundle.Created": _nothing,
    "Scorer.Created": _scorer_created,
    "Experiment.Created": _experiment_created,
    "Experiment.DefinitionUpdated": _definition_updated,
    "Experiment.VersionSnapshotted": _version_snapshotted,
    "ExperimentVersion.Created": _experiment_version_created,
    "Run.Started": _run_started,
    "Run.ShardsPlanned": _nothing,  # how a run is split for the worker pool; the view counts its chunks as any
    "Run.ChunkRecorded": _chunk_recorded,
    "Run.Completed": _finished("completed"),
    "Run.Failed": _finished("failed"),
    "Run.Cancelled": _finished("cancelled"),
    "RunChunk.Opened": _nothing,
    "RunChunk.ItemRecorded": _item_recorded,
    "RunChunk.ItemsRecorded": _items_recorded,
    "Run.RescoreStarted": _nothing,
    "Run.ChunkRescored": _chunk_rescored,
    "Run.RescoreEnded": _nothing,
    "Rescore.Started": _rescore_started,
    "Rescore.ChunkRecorded": _rescore_chunk,
    "Rescore.Completed": _rescore_finished("completed"),
    "Rescore.Failed": _rescore_finished("failed"),
    "Rescore.Cancelled": _rescore_finished("cancelled"),
    "RescoreChunk.Opened": _nothing,
    "RescoreChunk.ItemRescored": _item_rescored,
    "Annotation.Created": _annotation_created,
    "Prompt.Created": _prompt_created,
    "Prompt.VersionAdded": _prompt_version_added,
    "PromptVersion.Created": _prompt_version_created,
    "Project.Created": _project_created,
    # API keys have no view: a key is read from its own stream (a revocation counts at once), a project's from its ring
    "ApiKey.Created": _nothing,
    "ApiKey.Revoked": _nothing,
    "KeyRing.Created": _nothing,
    "KeyRing.KeyAdded": _nothing,
}


def operations(event: Any) -> Iterator[Op]:
    """All row operations for one event, chosen by the event's class (``Aggregate.Event``)."""
    return HANDLERS.get(type(event).__qualname__, _nothing)(event)


# The order in which a batch's operations are applied, by statement. Operations on one row keep their log order
# (the sort is stable and a row's statements never need to run against this order); consecutive operations with
# the same statement then go to the database as one executemany.
ORDER = [
    INSERT_DATASET, INSERT_UPLOAD_ITEM, INSERT_DRAFT_ITEM, COUNT_DRAFT, SET_VERSIONS, INSERT_VERSION_ITEM,
    INSERT_VERSION,
    MARK_LIVE_CHUNK, DROP_DEAD_ITEMS, INSERT_DEPLOYMENT, ARCHIVE_DEPLOYMENT, INSERT_SCORER, INSERT_EXPERIMENT,
    UPDATE_DEFINITION,
    SET_LATEST_VERSION,
    INSERT_EXPERIMENT_VERSION, INSERT_RUN, COUNT_CHUNK, FINISH_RUN, INSERT_RUN_ITEM, SET_ITEM_STATUS, INSERT_SCORE,
    UNMARK_SCORE, ADD_RUN_SCORER, INSERT_RESCORE, COUNT_RESCORE_CHUNK, FINISH_RESCORE, INSERT_RESCORE_ITEM,
    INSERT_ANNOTATION,
    INSERT_PROMPT, SET_PROMPT_LATEST, INSERT_PROMPT_VERSION, INSERT_PROJECT,
]  # fmt: skip
_RANK = {sql: rank for rank, sql in enumerate(ORDER)}
# Statements that delete or overwrite draft rows are applied exactly where they are in the log: the operations
# before one of them are sorted and applied first, those after it afterwards.
IN_LOG_ORDER = {
    CLEAR_DRAFT, COPY_VERSION_TO_DRAFT, SET_DRAFT_COUNT, REMOVE_DRAFT_ITEM, COPY_UPLOAD_TO_DRAFT, DROP_UPLOAD_ITEMS,
}  # fmt: skip


def _sum_scorer_increments(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Fold many per-score increments (and decrements: n = -1) of one (run, scorer) into one upsert."""
    merged: dict[tuple[Any, Any], list[Any]] = {}
    for run_id, key, index, n, score, passed, failed, errored in rows:
        acc = merged.setdefault((run_id, key), [run_id, key, index, 0, 0, 0, 0, 0])
        acc[3] += n
        acc[4] += score
        acc[5] += passed
        acc[6] += failed
        acc[7] += errored
    return [tuple(acc) for acc in merged.values()]


ADD_RUN_SCORERS = (
    "INSERT INTO {p}run_scorers VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, scorer_key) DO UPDATE SET "
    "n = {p}run_scorers.n + excluded.n, sum_score_e9 = {p}run_scorers.sum_score_e9 + excluded.sum_score_e9, "
    "n_passed = {p}run_scorers.n_passed + excluded.n_passed, "
    "n_failed = {p}run_scorers.n_failed + excluded.n_failed, "
    "n_errored = {p}run_scorers.n_errored + excluded.n_errored"
)


def batched(ops: list[Op]) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """A batch's operations as ``(statement, rows)`` groups, in a safe order, increments folded.

    Between two operations of ``IN_LOG_ORDER`` (a segment), the operations are ordered by ``ORDER`` (a stable sort:
    a statement's rows keep their log order), those of statements not in it last in log order; consecutive
    operations with the same statement make one group. Here as one bucket per ranked statement, not a sort."""
    groups: list[tuple[str, list[tuple[Any, ...]]]] = []
    ranked: dict[str, list[tuple[Any, ...]]] = {}
    unranked: list[Op] = []

    def add(sql: str, params: tuple[Any, ...]) -> None:
        if groups and groups[-1][0] == sql:
            groups[-1][1].append(params)
        else:
            groups.append((sql, [params]))

    def end_segment() -> None:
        groups.extend((sql, ranked[sql]) for sql in sorted(ranked, key=_RANK.__getitem__))
        for sql, params in unranked:
            add(sql, params)
        ranked.clear()
        unranked.clear()

    for sql, params in ops:
        rows = ranked.get(sql)
        if rows is not None:
            rows.append(params)
        elif sql in _RANK:
            ranked[sql] = [params]
        elif sql in IN_LOG_ORDER:
            end_segment()
            add(sql, params)
        else:
            unranked.append((sql, params))
    end_segment()
    return [
        (ADD_RUN_SCORERS, _sum_scorer_increments(rows)) if sql == ADD_RUN_SCORER else (sql, rows)
        for sql, rows in groups
    ]
