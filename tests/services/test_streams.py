"""The streaming reads (``reports failures``, ``scores list``, ``reports export`` of a tabular format): a page at
a time, never the whole run, and the same rows and bytes as reading the whole run at once, on both stores."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.domain import exports as export_formats
from agnt5_evals.projections import queries
from agnt5_evals.services import exports, runs, scores
from tests.support import definition, execute


@pytest.fixture
def run_id(services: Services, world: dict[str, Any]) -> str:
    """A finished run of the regressed deployment with two scorers and two repetitions: failed items among passed
    ones, 20 positions."""
    spec = definition(world["dataset"], world["version"], world["bad"], "exact_match", "json_valid", repetitions=2)
    experiment = services.app.create_experiment("streamed", "", spec)
    rid: UUID = services.app.start_run(experiment.id).id
    execute(services, rid)
    services.catch_up()
    return str(rid)


def _largest_read(services: Services, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of rows of every query the view answers from now on."""
    sizes: list[int] = []
    query = services.view.query

    def counted(sql: str, params: Any = ()) -> Any:
        rows = query(sql, params)
        sizes.append(len(rows))
        return rows

    monkeypatch.setattr(services.view, "query", counted)
    return sizes


def test_scores_stream_in_pages_of_the_same_rows(services, run_id, monkeypatch):
    whole = scores.list_scores(services, run_id)
    assert len(whole) == 40
    monkeypatch.setattr(scores, "PAGE", 3)
    sizes = _largest_read(services, monkeypatch)
    assert list(scores.iter_scores(services, run_id)) == whole
    assert max(sizes) <= 3  # no query read the run's scores at once
    assert list(scores.iter_scores(services, run_id, scorer="json_valid")) == [
        s for s in whole if s["scorer_key"] == "json_valid"
    ]


def test_failures_stream_in_pages_of_the_same_items(services, run_id, monkeypatch):
    whole = runs.failures(services, run_id)
    by_scorer = runs.failures(services, run_id, "exact_match")
    assert len(whole) > 4 and whole == sorted(whole, key=lambda item: item["position"])
    monkeypatch.setattr(runs, "PAGE", 2)
    sizes = _largest_read(services, monkeypatch)
    assert list(runs.iter_failures(services, run_id)) == whole
    assert runs.failures(services, run_id, limit=3) == whole[:3]
    assert list(runs.iter_failures(services, run_id, "exact_match")) == by_scorer
    assert max(sizes) <= 2 * 2  # a page of items, or of their scores (two scorers)


TABULAR = [("csv", "items"), ("jsonl", "scores"), ("json", "items"), ("json", "scores")]


@pytest.mark.parametrize(("fmt", "layout"), TABULAR)
def test_a_tabular_export_streams_in_pages_the_bytes_of_the_whole_run(services, run_id, monkeypatch, fmt, layout):
    whole = exports.render(exports.run_export(services, run_id), fmt, layout)  # the run read at once
    monkeypatch.setattr(exports, "PAGE", 3)
    sizes = _largest_read(services, monkeypatch)
    stream, media = exports.stream_export(services, run_id, fmt, layout)
    pieces = list(stream)
    assert b"".join(pieces) == whole and media == export_formats.MEDIA_TYPES[fmt]
    assert len(pieces) > 5  # a piece per page of 3 positions (20 positions)
    assert max(sizes) <= 3 * 2


def test_a_streamed_export_refuses_before_its_first_piece(services, run_id):
    from agnt5_evals.domain.errors import Invalid, NotFound

    with pytest.raises(NotFound):
        exports.stream_export(services, "00000000-0000-0000-0000-000000000000", "csv")
    with pytest.raises(Invalid, match="baseline"):
        exports.stream_export(services, run_id, "csv", baseline=run_id)


def test_scored_keys_follow_the_scorer_order(services, world, run_id):
    assert queries.scored_keys(services.view, run_id) == ["exact_match", "json_valid"]
    app = services.app  # positions past 2,147: position * 10^6 overflows a 32-bit integer
    ds = app.create_dataset("many")
    app.add_items(ds.id, [{"input": {"order_id": n}, "expected_output": n} for n in range(2_200)])
    version = app.publish(ds.id).id
    spec = definition(ds.id, version, world["good"], "json_valid", "exact_match", concurrency=16)
    big = app.start_run(app.create_experiment("many", "", spec).id).id
    execute(services, big)
    services.catch_up()
    assert queries.scored_keys(services.view, str(big)) == ["json_valid", "exact_match"]
    stream, _ = exports.stream_export(services, str(big), "csv")
    assert sum(piece.count(b"\r\n") for piece in stream) == 2_201


def test_compare_flips_get_their_values_a_page_at_a_time(services, world, monkeypatch):
    from agnt5_evals.services import compare

    ran = []
    for deployment in ("good", "bad"):
        spec = definition(world["dataset"], world["version"], world[deployment], "json_valid", repetitions=2)
        ran.append(str(services.app.start_run(services.app.create_experiment(deployment, "", spec).id).id))
        execute(services, UUID(ran[-1]))
    services.catch_up()
    whole = compare.compare_runs(services, *ran)
    assert len(whole["newly_failing"]) == 10 and "base_output" in whole["newly_failing"][0]  # odd orders, twice
    monkeypatch.setattr(compare, "DETAILS_PAGE", 3)
    bare = compare.compare_runs(services, *ran, details=False)
    assert len(bare["newly_failing"]) == 10 and "base_output" not in next(iter(bare["newly_failing"]))
    kinds = ("newly_failing", "newly_passing")
    assert bare | {kind: list(compare.stream_details(services, bare, kind)) for kind in kinds} == whole
    first = compare.compare_runs(services, *ran, limit=3)  # a short listing: kept per process (services.finished)
    for _ in range(2):  # the lazy flips of a streamed listing are never kept (they hold the read model)
        short = compare.compare_runs(services, *ran, details=False, limit=3)
        assert short | {kind: list(compare.stream_details(services, short, kind)) for kind in kinds} == first


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_a_dict_with_streamed_lists_prints_what_the_whole_dict_prints(capsys, fmt):
    from agnt5_evals.cli.common import Format, emit, emit_streamed

    data = {"a": 1, "flips": [{"x": [1, {"y": "s\nt"}]}, {"x": []}], "none": [], "after": {"k": "v"}}
    emit(data, Format(fmt))
    expected = capsys.readouterr().out
    emit_streamed(data | {"flips": iter(data["flips"]), "none": iter([])}, Format(fmt))
    assert capsys.readouterr().out == expected
