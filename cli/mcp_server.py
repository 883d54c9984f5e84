"""``agnt5 mcp``: the eval tools over the Model Context Protocol (stdio), thin over services/ and projections/.

Each tool call opens the stores, brings the read model up to date (runs are written by worker processes) and
closes them, exactly like one CLI command; the SDK runs these synchronous tools on worker threads. A result is the
JSON the matching CLI command prints with ``--format json``; a domain error is a tool error: its one line as text,
``{message, code, field}`` as structured content.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import anyio
import orjson
from mcp.server import MCPServer
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.cli.common import dumps, services, uuid_arg
from agnt5_evals.cli.mcp_strict import strict_stdio_server
from agnt5_evals.domain.errors import EvalsError, Invalid
from agnt5_evals.domain.reports import EVIDENCE_PARTS
from agnt5_evals.projections import queries
from agnt5_evals.services import compare, operations, runs, scores

INSTRUCTIONS = (
    "agnt5-evals: read datasets, experiments, runs and scores; start, wait for, compare and cancel experiment "
    "runs. Ids are UUID strings. Creating or editing datasets and experiments is done with the agnt5 CLI."
)

DatasetId = Annotated[str, Field(description="Dataset id (UUID), from list_eval_datasets.")]
ExperimentId = Annotated[str, Field(description="Experiment id (UUID), from list_experiments.")]
ALL_PARTS = ",".join(EVIDENCE_PARTS)
RunId = Annotated[str, Field(description="Run id (UUID), from run_experiment or get_experiment's runs.")]


@contextmanager
def _store(catch_up: bool = True) -> Iterator[Services]:
    """The stores for one tool call (a domain error becomes a tool error in ``_domain_errors``)."""
    with services(catch_up) as svc:
        yield svc


def _domain_errors(fn: Callable[..., CallToolResult]) -> Callable[..., CallToolResult]:
    """The tool, answering a domain error as a tool error: ``field: message`` and ``{message, code, field}``."""

    @functools.wraps(fn)
    def tool(*args: Any, **kwargs: Any) -> CallToolResult:
        try:
            return fn(*args, **kwargs)
        except EvalsError as exc:
            text = TextContent(type="text", text=str(exc))
            return CallToolResult(content=[text], structured_content=exc.as_dict(), is_error=True)

    return tool


def _json(value: Any) -> CallToolResult:
    """The CLI's ``--format json`` text; structured content too (a list under ``result``)."""
    text = dumps(value)
    parsed = orjson.loads(text)
    structured = parsed if isinstance(parsed, dict) else {"result": parsed}
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)


def _id(value: str, field: str) -> str:
    return str(uuid_arg(value, field))


def list_eval_datasets(
    search: Annotated[str, Field(description="Only datasets whose name contains this text.")] = "",
) -> CallToolResult:
    """List datasets (id, name, draft size, number of published versions), oldest first."""
    with _store() as svc:
        return _json(queries.datasets(svc.view, search))


def get_eval_dataset(dataset_id: DatasetId) -> CallToolResult:
    """One dataset with its published versions (versions_list: id, number, n_items) for run and item lookups."""
    with _store() as svc:
        row = queries.dataset(svc.view, _id(dataset_id, "dataset_id"))
        row["versions_list"] = queries.dataset_versions(svc.view, row["id"])
        return _json(row)


def get_dataset_item_payload(
    dataset_version_id: Annotated[str, Field(description="Published dataset version id (UUID).")],
    item_id: Annotated[
        str, Field(description="Dataset item id (a run item's dataset_item_id, e.g. from list_experiment_failures).")
    ],
) -> CallToolResult:
    """One item of a dataset version: input, expected_output, metadata, events and split."""
    with _store() as svc:
        version = queries.dataset_version(svc.view, _id(dataset_version_id, "dataset_version_id"))
        return _json(queries.dataset_item(svc.view, version["id"], item_id.strip()))  # any string id, as uploaded


def list_experiments(
    dataset_id: Annotated[str, Field(description="Only experiments over this dataset (UUID).")] = "",
    target_type: Annotated[str, Field(description="Only this target type: component, deployment or prompt.")] = "",
    page: Annotated[int, Field(description="This page (from 1) of page_size experiments; 0: all.", ge=0)] = 0,
    page_size: Annotated[int, Field(description="Experiments per page (1-1000).", ge=1, le=1000)] = 50,
) -> CallToolResult:
    """List experiments (id, name, dataset and version, definition), oldest first."""
    with _store() as svc:
        did = _id(dataset_id, "dataset_id") if dataset_id else ""
        return _json(operations.list_experiments(svc, did, "", target_type, page, page_size))


def get_experiment(experiment_id: ExperimentId) -> CallToolResult:
    """One experiment's definition (target, scorers, config, dataset version) with its versions and runs."""
    with _store() as svc:
        row = queries.experiment(svc.view, _id(experiment_id, "experiment_id"))
        row["versions_list"] = queries.experiment_versions(svc.view, row["id"])
        row["runs"] = runs.list_runs(svc, row["id"])
        return _json(row)


def run_experiment(
    experiment_id: ExperimentId,
    name: Annotated[str, Field(description="Label for the run, e.g. pr-1234.")] = "",
    deployment_id: Annotated[str | None, Field(description="Candidate deployment (UUID) to run instead.")] = None,
    experiment_version_id: Annotated[
        str | None, Field(description="Re-run this older experiment version (UUID).")
    ] = None,
    config: Annotated[
        dict[str, Any] | None, Field(description='Config overrides for this run only, e.g. {"concurrency": 4}.')
    ] = None,
    wait: Annotated[bool, Field(description="Block until the run finishes (or timeout_s passes).")] = False,
    timeout_s: Annotated[float, Field(description="With wait: give up waiting after this many seconds.", ge=0)] = 300,
) -> CallToolResult:
    """Start a run of an experiment in a background worker and return its summary (id, status, counts, gate).

    With wait, block until the run is completed, failed or cancelled and return the final summary (pass rate,
    gate verdict, per-scorer aggregates); timed_out is true when timeout_s passed first (the run goes on).
    """
    with _store(catch_up=False) as svc:
        summary = operations.start_run(
            svc,
            uuid_arg(experiment_id, "experiment_id"),
            name,
            uuid_arg(deployment_id, "deployment_id") if deployment_id else None,
            uuid_arg(experiment_version_id, "experiment_version_id") if experiment_version_id else None,
            config=config,
        )
        return _json(runs.wait_summary(svc, summary["id"], timeout_s) if wait else summary)


def get_experiment_run_summary(run_id: RunId) -> CallToolResult:
    """A run's summary: status, item counts, pass rate, gate verdict, per-scorer aggregates, latency, tokens."""
    with _store() as svc:
        return _json(operations.summary(svc, _id(run_id, "run_id")))


def list_experiment_failures(run_id: RunId) -> CallToolResult:
    """A run's failed and errored items with their output, error, trace events and every scorer's result."""
    with _store() as svc:
        return _json(runs.failures(svc, _id(run_id, "run_id")))


def compare_experiment_runs(
    base_run_id: Annotated[str, Field(description="The baseline run (UUID).")],
    compare_run_id: Annotated[str, Field(description="The candidate run (UUID).")],
) -> CallToolResult:
    """Compare a candidate run with a baseline: pass rates and delta, per-scorer mean movement, and the items
    that flipped (newly_failing, newly_passing), paired by dataset item."""
    with _store() as svc:
        base, other = _id(base_run_id, "base_run_id"), _id(compare_run_id, "compare_run_id")
        return _json(compare.compare_runs(svc, base, other))


def cancel_experiment_run(
    run_id: RunId,
    experiment_id: Annotated[
        str | None, Field(description="If given, the run must belong to this experiment (UUID).")
    ] = None,
) -> CallToolResult:
    """Cancel a running run (what finished before is kept) and return its summary."""
    with _store(catch_up=False) as svc:
        eid = uuid_arg(experiment_id, "experiment_id") if experiment_id else None
        return _json(runs.cancel_run(svc, uuid_arg(run_id, "run_id"), eid))


def list_scores(
    run_id: Annotated[str, Field(description="Scores of this run (UUID).")] = "",
    run_item_id: Annotated[str, Field(description="Scores of this run item (UUID).")] = "",
    scorer: Annotated[str, Field(description="Only this scorer (its key, e.g. json_valid).")] = "",
    rescore_id: Annotated[str, Field(description="The scores this rescore recorded instead (UUID).")] = "",
) -> CallToolResult:
    """List current scores (score, passed, label, explanation) by run, run item or scorer; give run_id,
    run_item_id or rescore_id."""
    with _store() as svc:
        if not run_id and not run_item_id and not rescore_id:
            raise Invalid("give run_id, run_item_id or rescore_id", field="run_id, run_item_id, rescore_id")
        rid = _id(run_id, "run_id") if run_id else ""
        iid = _id(run_item_id, "run_item_id") if run_item_id else ""
        resc = _id(rescore_id, "rescore_id") if rescore_id else ""
        return _json(scores.list_scores(svc, rid, iid, scorer, resc))


def get_score_evidence(
    score_id: Annotated[str, Field(description="Score id (UUID), from list_scores.")],
    include: Annotated[str, Field(description=f"Comma-separated parts: {', '.join(EVIDENCE_PARTS)}.")] = ALL_PARTS,
) -> CallToolResult:
    """What a scorer saw (input, output, expected output, trace), what it returned, and its evidence."""
    with _store() as svc:
        return _json(operations.score_evidence(svc, _id(score_id, "score_id"), include))


READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)

# In the reference's order; the service each tool belongs to (None: only when --services is not given).
TOOLS: list[tuple[Callable[..., CallToolResult], str | None, ToolAnnotations]] = [
    (list_eval_datasets, "evals", READ_ONLY),
    (get_eval_dataset, "evals", READ_ONLY),
    (get_dataset_item_payload, "evals", READ_ONLY),
    (list_experiments, "experiments", READ_ONLY),
    (get_experiment, "experiments", READ_ONLY),
    (run_experiment, "experiments", ToolAnnotations(read_only_hint=False, destructive_hint=False)),
    (get_experiment_run_summary, "experiments", READ_ONLY),
    (list_experiment_failures, "experiments", READ_ONLY),
    (compare_experiment_runs, None, READ_ONLY),
    (cancel_experiment_run, "experiments", ToolAnnotations(read_only_hint=False, destructive_hint=True)),
    (list_scores, "evals", READ_ONLY),
    (get_score_evidence, "evals", READ_ONLY),
]


def build_server(chosen: frozenset[str] | None = None) -> MCPServer[Any]:
    """The server with every tool, or (``--services``) those of the chosen services, without the cross-service
    compare_experiment_runs."""
    server: MCPServer[Any] = MCPServer("agnt5-evals", instructions=INSTRUCTIONS, log_level="WARNING")
    for fn, service, hints in TOOLS:
        if chosen is None or service in chosen:
            server.add_tool(_domain_errors(fn), annotations=hints)
    return server


def serve(chosen: frozenset[str] | None = None) -> None:
    """Serve over stdio until the client closes standard input, reading each message strictly (``mcp_strict``)."""
    anyio.run(_serve_strictly, build_server(chosen))


async def _serve_strictly(server: MCPServer[Any]) -> None:
    """``MCPServer.run_stdio_async`` on the strict transport."""
    lowlevel = server._lowlevel_server
    async with strict_stdio_server() as (read_stream, write_stream):
        await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())
