"""The invariant checker (`agnt5 audit check`): it holds on a healthy store, and each check names a real violation
crafted in the read model's tables or in the log (a test of the checker may break what the code never would)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from typer.testing import CliRunner

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.cli.main import app as cli
from agnt5_evals.domain import ids
from agnt5_evals.domain.runs import Run, RunChunk, chunk_items
from agnt5_evals.services.invariants import LogFold, check
from tests.support import definition, execute


@pytest.fixture
def healthy(services: Services, world: dict[str, Any]) -> dict[str, Any]:
    """A store with a staged upload (1,200 items), a publish, an edit, a restore and two completed runs."""
    app = services.app
    big = app.create_dataset("big").id
    app.add_items(big, [{"input": {"n": n}, "expected_output": n} for n in range(1200)])
    version = app.publish(big).id
    app.add_items(big, [{"input": {"n": "extra"}}])
    app.restore_draft(big, version)  # the draft is the version's 1,200 items again
    experiment = app.create_experiment("exp", "", definition(world["dataset"], world["version"], world["good"],
                                                             "json_valid", "exact_match"))  # fmt: skip
    runs = [app.start_run(experiment.id).id for _ in range(2)]
    for run_id in runs:
        assert execute(services, run_id, chunk_items=3) == "completed"
    return {**world, "runs": runs, "big": big}


def violated(services: Services) -> dict[str, list[str]]:
    report = check(services).as_dict()
    return {row["invariant"]: row["details"] for row in report["invariants"] if not row["holds"]}


def write_view(services: Services, sql: str, params: tuple[Any, ...] = ()) -> None:
    """Break the live read model behind the application's back (only this test does such a thing)."""
    view = services.view
    with view.datastore.transaction(commit=True) as cursor:
        view.execute(cursor, view.sql(sql, view.refresh()), params)


def test_a_healthy_store_holds_every_invariant(services: Services, healthy: dict[str, Any]) -> None:
    report = check(services)
    assert report.ok, report.as_dict()
    assert report.view_position == report.log_position > 0
    assert report.counted["run items"] == 20 and report.counted["scores"] == 40
    assert report.counted["version items"] == 1210 and report.counted["uploads"] == 1


def test_the_cli_exits_0_when_every_invariant_holds_and_5_naming_the_violated_ones(
    services: Services, healthy: dict[str, Any]
) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["audit", "check", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert '"ok": true' in result.stdout

    write_view(services, "UPDATE {p}runs SET passed = passed + 1 WHERE id = ?", (str(healthy["runs"][0]),))
    result = runner.invoke(cli, ["audit", "check"])
    assert result.exit_code == 5
    assert "error: violated: counters, rebuild" in result.stderr
    assert str(healthy["runs"][0]) in result.stdout


def test_a_view_counter_that_disagrees_with_its_rows_is_named(services: Services, healthy: dict[str, Any]) -> None:
    run_id = str(healthy["runs"][1])
    write_view(services, "UPDATE {p}runs SET done = done - 1 WHERE id = ?", (run_id,))
    found = violated(services)
    assert set(found) == {"counters", "rebuild"}
    assert run_id in found["counters"][0] and "table runs: 1 rows only in the live view" in found["rebuild"][0]


def test_a_version_item_projected_twice_is_named(services: Services, healthy: dict[str, Any]) -> None:
    version = str(healthy["version"])
    write_view(services, "INSERT INTO {p}dataset_items SELECT version_id, position, 'another-chunk', item_id, input, "
               "expected_output, metadata, events, split, live FROM {p}dataset_items WHERE version_id = ? "
               "AND position = 0", (version,))  # fmt: skip
    found = violated(services)
    assert set(found) == {"dataset-items", "rebuild"}
    assert any(f"view version {version}: n_items 10, 11 rows" in d for d in found["dataset-items"])
    assert any("has 2 rows" in d for d in found["dataset-items"])


def test_a_lost_score_row_is_named(services: Services, healthy: dict[str, Any]) -> None:
    run_id = str(healthy["runs"][0])
    write_view(services, "DELETE FROM {p}scores WHERE run_id = ? AND position = 4 AND scorer_index = 1", (run_id,))
    found = violated(services)
    assert set(found) == {"scores", "counters", "rebuild"}
    assert f"view run {run_id}: 19 score rows, 20 in the log" in found["scores"]
    assert "scorer exact_match has 9 current rows" in found["counters"][0]


def test_a_lost_draft_row_is_named(services: Services, healthy: dict[str, Any]) -> None:
    write_view(services, "DELETE FROM {p}draft_items WHERE dataset_id = ? AND seq = "
               "(SELECT min(seq) FROM {p}draft_items WHERE dataset_id = ?)", (str(healthy["big"]),) * 2)  # fmt: skip
    found = violated(services)
    assert set(found) == {"counters", "rebuild"}
    assert f"view dataset {healthy['big']}: draft_items 1200, 1199 rows, 1200 in the log" in found["counters"]


def test_an_item_recorded_twice_in_the_log_is_named(services: Services, healthy: dict[str, Any]) -> None:
    """A chunk saved outside the run's watermark (what two writers without the run's version would do)."""
    run_id = healthy["runs"][0]
    recorded = services.app.events.get(ids.run_chunk_id(run_id, 0))
    record = next(item for e in recorded for item in chunk_items(type(e).__qualname__, vars(e)))
    stray = RunChunk(run_id=run_id, chunk_no=99, start=0)
    stray.record_items([record])
    services.app.save(stray)  # the read model rejects it (a duplicate row) and stops before it: the log still counts
    found = violated(services)
    assert f"run {run_id}: item {record['run_item_id']} recorded twice (positions 0, 0)" in found["run-items"]
    assert f"run {run_id}: position 0 recorded twice" in found["run-items"]
    stray_id = ids.run_chunk_id(run_id, 99)
    assert f"run {run_id}: 1 items recorded in chunk {stray_id}, which the run never counted" in found["run-items"]
    assert services.app.get(Run, run_id, "run").status == "completed"


# -- the log's invariants, fold by fold ----------------------------------------------------------------------


RUN = "00000000-0000-4000-8000-000000000001"
VERSION = "00000000-0000-4000-8000-000000000002"


def started(fold: LogFold, items: list[str], scorers: list[str]) -> None:
    """A version of ``items`` (published from a draft of them) and a started run of it with ``scorers``."""
    fold.add("Dataset.Created", "d", {})
    fold.add("Dataset.ItemsAdded", "d", {"items": [{"id": i} for i in items]})
    fold.add("DatasetVersionChunk.Created", "c1", {"dataset_version_id": VERSION, "index": 0, "start": 0,
                                                   "items": [{"id": i} for i in items]})  # fmt: skip
    fold.add("DatasetVersion.Created", VERSION, {"dataset_id": "d", "n_items": len(items), "chunk_ids": ["c1"]})
    spec = {"scorers": [{"key": key} for key in scorers]}
    fold.add("Run.Started", RUN, {"spec": spec, "n_items": len(items), "repetitions": 1, "dataset_version_id": VERSION})


def item(position: int, item_id: str, status: str = "passed", scores: Any = None, error: str | None = None) -> dict:
    run_item = ids.run_item_id_str(UUID(RUN), item_id, 0)
    if scores is None:
        scores = [{"key": "s", "id": ids.score_id_str(run_item, 0, "s"), "passed": status == "passed"}]
    return {"run_id": RUN, "run_item_id": run_item, "dataset_item_id": item_id, "position": position,
            "repetition": 0, "status": status, "error": error, "scores": scores}  # fmt: skip


def chunk(fold: LogFold, chunk_no: int, start: int, items: list[dict], counts: tuple[int, int, int]) -> None:
    cid = str(ids.run_chunk_id(UUID(RUN), chunk_no))
    passed, failed, errored = counts
    fold.add("Run.ChunkRecorded", RUN, {"chunk_no": chunk_no, "start": start, "end": start + len(items),
                                        "n_passed": passed, "n_failed": failed, "n_errored": errored})  # fmt: skip
    fold.add("RunChunk.Opened", cid, {"run_id": RUN, "chunk_no": chunk_no, "start": start})
    for recorded in items:
        fold.add("RunChunk.ItemRecorded", cid, recorded)


def folded(build: Any) -> list[tuple[str, str]]:
    fold = LogFold()
    build(fold)
    fold.finish()
    return [(v.invariant, v.detail) for v in fold.violations]


def test_a_well_formed_run_folds_without_violations() -> None:
    def build(fold: LogFold) -> None:
        started(fold, ["a", "b", "c"], ["s"])
        chunk(fold, 0, 0, [item(0, "a"), item(1, "b", "failed")], (1, 1, 0))
        chunk(fold, 1, 2, [item(2, "c", "errored", [], "RuntimeError: boom")], (0, 0, 1))
        fold.add("Run.Completed", RUN, {})

    assert folded(build) == []


def test_a_gap_in_the_recorded_positions_is_named() -> None:
    def build(fold: LogFold) -> None:
        started(fold, ["a", "b", "c"], ["s"])
        chunk(fold, 0, 0, [item(0, "a"), item(2, "c")], (2, 0, 0))

    found = folded(build)
    assert ("run-items", f"run {RUN}: recorded positions are not 0..1 (missing [1], beyond the watermark [2])") in found


def test_a_chunk_that_does_not_follow_the_watermark_is_named() -> None:
    def build(fold: LogFold) -> None:
        started(fold, ["a", "b"], ["s"])
        chunk(fold, 0, 0, [item(0, "a")], (1, 0, 0))
        chunk(fold, 1, 0, [item(0, "a")], (1, 0, 0))

    found = [d for inv, d in folded(build) if inv == "run-items"]
    assert f"run {RUN}: chunk 1 [0, 1) does not follow 1 chunks ending at 1" in found
    assert f"run {RUN}: position 0 recorded twice" in found


def test_a_missing_score_and_scores_on_an_errored_item_are_named() -> None:
    def build(fold: LogFold) -> None:
        started(fold, ["a", "b"], ["s"])
        stray = [{"key": "s", "id": "x", "passed": False}]
        chunk(fold, 0, 0, [item(0, "a", scores=[]), item(1, "b", "errored", stray, "Boom: x")], (1, 0, 1))

    found = [d for inv, d in folded(build) if inv == "scores"]
    assert any("has scores [], its spec scorers ['s']" in d for d in found)
    assert any("errored item" in d and "has 1 scores" in d for d in found)


def test_run_counters_that_disagree_with_the_items_are_named() -> None:
    def build(fold: LogFold) -> None:
        started(fold, ["a"], ["s"])
        chunk(fold, 0, 0, [item(0, "a", "failed")], (1, 0, 0))
        fold.add("Run.Completed", RUN, {})

    found = folded(build)
    assert ("counters", f"run {RUN}: passed counter 1, 0 items") in found
    assert ("counters", f"run {RUN}: failed counter 0, 1 items") in found


def test_a_version_with_an_item_twice_or_a_wrong_count_is_named() -> None:
    def build(fold: LogFold) -> None:
        fold.add("Dataset.Created", "d", {})
        fold.add("Dataset.ItemsAdded", "d", {"items": [{"id": "a"}, {"id": "b"}]})
        fold.add("DatasetVersionChunk.Created", "c1", {"dataset_version_id": VERSION, "index": 0, "start": 0,
                                                       "items": [{"id": "a"}, {"id": "a"}, {"id": "b"}]})  # fmt: skip
        fold.add("Dataset.VersionPublished", "d", {"number": 1})
        fold.add("DatasetVersion.Created", VERSION, {"dataset_id": "d", "n_items": 2, "chunk_ids": ["c1"]})

    found = [d for inv, d in folded(build) if inv == "dataset-items"]
    assert f"version {VERSION}: says 2 items, its chunks hold 3" in found
    assert f"version {VERSION}: item a appears 2 times" in found


def test_an_upload_committing_a_missing_chunk_or_an_item_twice_is_named() -> None:
    def build(fold: LogFold) -> None:
        fold.add("Dataset.Created", "d", {})
        fold.add("Dataset.ItemsAdded", "d", {"items": [{"id": "a"}]})
        fold.add("UploadChunk.Created", "u1", {"upload_id": "up", "dataset_id": "d", "start": 0,
                                               "items": [{"id": "a"}, {"id": "b"}]})  # fmt: skip
        fold.add("Dataset.UploadCommitted", "d", {"upload_id": "up", "chunk_ids": ["u1"], "n_items": 2})
        fold.add("Dataset.UploadCommitted", "d", {"upload_id": "up2", "chunk_ids": ["u2"], "n_items": 5})

    found = [d for inv, d in folded(build) if inv == "dataset-items"]
    assert "dataset d: item a is in the draft twice (upload up)" in found
    assert "dataset d: upload up2 commits a missing or foreign chunk u2" in found


def test_the_check_reads_a_10k_item_run_quickly_enough(services: Services, agent_dir: Path) -> None:
    """Not a timing assertion: the check of a 10,000-item run finishes (the suite's deadline bounds it)."""
    app = services.app
    ds = app.create_dataset("ten-k").id
    app.add_items(ds, [{"input": {"order_id": n}, "expected_output": None} for n in range(10_000)])
    version = app.publish(ds).id
    world_dep = app.create_deployment("g", "good_agent", str(agent_dir), _discover(agent_dir)).id
    spec = definition(ds, version, world_dep, "json_valid", concurrency=8)
    run_id = app.start_run(app.create_experiment("ten-k", "", spec).id).id
    assert execute(services, run_id) == "completed"
    report = check(services)
    assert report.ok, report.as_dict()
    assert report.counted["run items"] == 10_000


def _discover(agent_dir: Path) -> Any:
    from agnt5_evals.adapters.components import discover

    return discover("good_agent", str(agent_dir))


def test_a_skipped_chunk_number_and_a_chunk_after_the_end_are_named_not_a_crash() -> None:
    def build(fold: LogFold) -> None:
        started(fold, ["a", "b", "c"], ["s"])
        chunk(fold, 0, 0, [item(0, "a")], (1, 0, 0))
        chunk(fold, 2, 1, [item(1, "b")], (1, 0, 0))  # chunk 1 never recorded
        fold.add("Run.Cancelled", RUN, {})
        chunk(fold, 3, 2, [item(2, "c")], (1, 0, 0))

    found = [d for inv, d in folded(build) if inv == "run-items"]
    assert any("chunk 2 [1, 2) does not follow 1 chunks" in d for d in found), found
    assert f"run {RUN}: chunk 3 recorded after the run was cancelled" in found


def test_a_sharded_run_s_shards_fold_in_any_order_and_a_shard_twice_is_named() -> None:
    def build(fold: LogFold) -> None:
        started(fold, ["a", "b", "c"], ["s"])
        fold.add("Run.ShardsPlanned", RUN, {"shard_size": 2})
        chunk(fold, 1, 2, [item(2, "c")], (1, 0, 0))
        chunk(fold, 0, 0, [item(0, "a"), item(1, "b")], (2, 0, 0))
        fold.add("Run.Completed", RUN, {})

    assert folded(build) == []

    def twice(fold: LogFold) -> None:
        build(fold)
        chunk(fold, 1, 2, [item(2, "c")], (1, 0, 0))

    found = [d for inv, d in folded(twice) if inv == "run-items"]
    assert any(
        "chunk 1 [2, 3) does not follow what shard 1 of 2 items recorded, or was recorded twice" in d for d in found
    ), found


def test_a_shard_recorded_in_chunks_folds_and_a_chunk_past_its_shard_s_watermark_is_named() -> None:
    def build(fold: LogFold) -> None:
        started(fold, ["a", "b", "c"], ["s"])
        fold.add("Run.ShardsPlanned", RUN, {"shard_size": 2})
        chunk(fold, 2, 2, [item(2, "c")], (1, 0, 0))  # a chunk's number is its start position
        chunk(fold, 0, 0, [item(0, "a")], (1, 0, 0))
        chunk(fold, 1, 1, [item(1, "b")], (1, 0, 0))
        fold.add("Run.Completed", RUN, {})

    assert folded(build) == []

    def gap(fold: LogFold) -> None:
        started(fold, ["a", "b", "c"], ["s"])
        fold.add("Run.ShardsPlanned", RUN, {"shard_size": 2})
        chunk(fold, 1, 1, [item(1, "b")], (1, 0, 0))  # shard 0's watermark is 0

    found = [d for inv, d in folded(gap) if inv == "run-items"]
    assert any("chunk 1 [1, 2) does not follow what shard 0 of 2 items recorded" in d for d in found), found


def test_a_chunk_numbered_past_the_end_folds_only_when_its_start_is_a_whole_shard_s_number() -> None:
    def build(fold: LogFold) -> None:  # a run of the version that numbered a whole shard's chunk by the shard
        started(fold, ["a", "b", "c", "d", "e"], ["s"])
        fold.add("Run.ShardsPlanned", RUN, {"shard_size": 2})
        chunk(fold, 2, 4, [item(4, "e")], (1, 0, 0))  # shard 2, whole: chunk 2
        chunk(fold, 7, 2, [item(2, "c"), item(3, "d")], (2, 0, 0))  # after the upgrade: 2 is taken, 5 + 2
        chunk(fold, 0, 0, [item(0, "a"), item(1, "b")], (2, 0, 0))
        fold.add("Run.Completed", RUN, {})

    assert folded(build) == []

    def invented(fold: LogFold) -> None:
        started(fold, ["a", "b", "c", "d", "e"], ["s"])
        fold.add("Run.ShardsPlanned", RUN, {"shard_size": 2})
        chunk(fold, 7, 2, [item(2, "c"), item(3, "d")], (2, 0, 0))  # 2 is free: numbered by its start

    found = [d for inv, d in folded(invented) if inv == "run-items"]
    assert any("chunk 7 [2, 4) does not follow what shard 1 of 2 items recorded" in d for d in found), found
