"""``agnt5 experiments``: define experiments, start runs, and inspect, compare and mine their runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import typer

from agnt5_evals.cli import archiving
from agnt5_evals.cli.common import (
    Format,
    FormatOption,
    TimeoutOption,
    emit,
    emit_streamed,
    json_option,
    note,
    print_created,
    uuid_arg,
    wait_timeout,
)
from agnt5_evals.cli.gateway import Gateway, gateway, read_gateway, standby_worker
from agnt5_evals.cli.readable import DEFAULT_LIMIT
from agnt5_evals.cli.refs import opt_ref, ref, ref_now, refs
from agnt5_evals.cli.render import (
    show_compare,
    show_rescore,
    show_summary,
    wait_and_report,
    wait_for_rescore_and_report,
)
from agnt5_evals.cli.replay import replay
from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.lazy import LazyModule

if TYPE_CHECKING:
    from agnt5_evals.services import definitions
else:
    definitions = LazyModule("agnt5_evals.services.definitions")  # `runs show` does not pay for the scorers

app = typer.Typer(help="Create experiments and run them over a dataset version.", no_args_is_help=True)
runs = typer.Typer(help="Inspect, cancel, compare and mine experiment runs.", no_args_is_help=True)
versions = typer.Typer(help="Immutable experiment versions (snapshots taken when runs start).", no_args_is_help=True)
app.add_typer(runs, name="runs")
app.add_typer(versions, name="versions")

COLUMNS = ["id", "name", "dataset_id", "dataset_version_id", "revision", "versions", "created_at"]
RUN_COLUMNS = ["id", "name", "status", "total_items", "done_items", "passed_items", "failed_items", "errored_items",
               "pass_rate", "passed", "created_at"]  # fmt: skip

ScorerOption = Annotated[
    list[str] | None,
    typer.Option("--builtin-scorer", help="Built-in scorer by name, or JSON {name, config}. Repeatable."),
]
ScorerIdOption = Annotated[list[str] | None, typer.Option("--scorer-id", help="Custom scorer id or name. Repeatable.")]
ConfigOption = Annotated[
    str | None,
    typer.Option(
        "--config",
        help='JSON object, e.g. {"passed_threshold": 1} (gate: pass rate >= it); the gate also takes '
        '{"gate_config": {"min_pass_rate": 0.9, "max_failed_items": 2}} (the stricter pass rate applies), '
        'per-scorer rules {"scorers": {"json_valid": {"min_pass_rate": 1}}} and a baseline '
        '{"baseline": RUN_ID or "last_passed", "max_regression": 0.02, "alpha": 0.05} (docs/ci.md). Unknown '
        "keys are refused; your own keys go under metadata.",
    ),
]


@app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="Experiment name.")],
    dataset_id: Annotated[str, typer.Option("--dataset-id", help="Dataset to run over.")],
    dataset_version_id: Annotated[str, typer.Option("--dataset-version-id", help="Published version to run over.")],
    target_type: Annotated[str, typer.Option("--target-type", help="component, deployment or prompt.")] = "component",
    deployment_id: Annotated[
        str | None, typer.Option("--deployment-id", help="Deployment serving the component.")
    ] = None,
    component_name: Annotated[str | None, typer.Option("--component-name")] = None,
    component_type: Annotated[
        str | None, typer.Option("--component-type", help="function, agent, workflow, tool.")
    ] = None,
    prompt_id: Annotated[
        str | None, typer.Option("--prompt-id", help="Prompt to target (--target-type prompt).")
    ] = None,
    prompt_version_id: Annotated[
        str | None,
        typer.Option(
            "--prompt-version-id",
            help="Pin a prompt version (id or number); default: every run takes the prompt's latest version. "
            "Prompt targets need no --deployment-id (ignored): the agnt5 worker calls AGNT5_LLM_BASE_URL.",
        ),
    ] = None,
    builtin_scorer: ScorerOption = None,
    scorer_id: ScorerIdOption = None,
    config: ConfigOption = None,
    description: Annotated[str, typer.Option("--description")] = "",
    fmt: FormatOption = Format.table,
) -> None:
    """Create an experiment: target x dataset version x scorers x config; prints its id.

    With no scorers, exact_match is used when every item of the dataset version has an expected output (a note
    on stderr says so)."""
    parsed_config = json_option(config, "--config") if config is not None else {}
    with gateway() as gw:
        dataset = ref(gw, "dataset", dataset_id, "--dataset-id")
        version = ref(gw, "dataset_version", dataset_version_id, "--dataset-version-id", dataset)
        deployment_id, prompt_id, prompt_version_id = _target_refs(
            gw, target_type, deployment_id, prompt_id, prompt_version_id
        )
        target = definitions.target_from(target_type, deployment_id, component_name, component_type, prompt_id,
                             prompt_version_id, note)  # fmt: skip
        body = {"name": name, "description": description, "dataset_id": dataset, "dataset_version_id": version,
                "target_type": target_type, "deployment_id": deployment_id, "component_name": component_name,
                "component_type": component_type, "prompt_id": prompt_id, "prompt_version_id": prompt_version_id,
                "scorers": builtin_scorer or [], "scorer_ids": refs(gw, "scorer", scorer_id, "--scorer-id"),
                "config": parsed_config}  # fmt: skip
        row = gw.create_experiment(body, target)
    for text in row["notes"]:
        note(f"note: {text}")
    print_created(fmt, row, f"Created experiment {name!r}")


@app.command("update")
def update(
    experiment_id: str,
    builtin_scorer: ScorerOption = None,
    scorer_id: ScorerIdOption = None,
    config: ConfigOption = None,
    dataset_version_id: Annotated[str | None, typer.Option("--dataset-version-id")] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Edit the definition; the next run snapshots it as a new experiment version."""
    if not (builtin_scorer or scorer_id or config is not None or dataset_version_id is not None):
        raise Invalid("nothing to update: give --builtin-scorer, --scorer-id, --config or --dataset-version-id")
    parsed_config = json_option(config, "--config") if config is not None else None
    version = uuid_arg(dataset_version_id, "--dataset-version-id") if dataset_version_id is not None else None
    with gateway() as gw:
        eid = ref(gw, "experiment", experiment_id, "EXPERIMENT_ID")
        changes = {"scorers": builtin_scorer or [], "scorer_ids": refs(gw, "scorer", scorer_id, "--scorer-id"),
                   "config": parsed_config, "dataset_version_id": str(version) if version else None}  # fmt: skip
        row = gw.update_experiment(eid, changes)
    emit(row, fmt, COLUMNS)


@app.command("list")
def list_(
    dataset_id: Annotated[str, typer.Option("--dataset-id", help="Only experiments over this dataset.")] = "",
    status: Annotated[str, typer.Option("--status", help="Only this status: active or archived.")] = "",
    type_: Annotated[str, typer.Option("--type", help="Only this target type: component, deployment, prompt.")] = "",
    page: Annotated[int, typer.Option("--page", help="This page (from 1) of --page-size experiments; 0: all.")] = 0,
    page_size: Annotated[int, typer.Option("--page-size", help="Experiments per page.")] = 50,
    archived: Annotated[bool, typer.Option("--archived", help="Archived experiments too.")] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """List experiments, oldest first (not the archived ones, unless --archived or --status archived)."""
    with gateway() as gw:
        did = ref(gw, "dataset", dataset_id, "--dataset-id") if dataset_id else ""
        rows = gw.experiments(did, status, type_, page, page_size, archived)
    emit(rows, fmt, COLUMNS + (["archived"] if archived or status == "archived" else []))


app.command("archive")(archiving.archive_experiment)
app.command("unarchive")(archiving.unarchive_experiment)


@versions.command("list")
def versions_list(experiment_id: str, fmt: FormatOption = Format.table) -> None:
    """List an experiment's immutable versions."""
    with gateway() as gw:
        rows = gw.experiment_versions(ref(gw, "experiment", experiment_id, "EXPERIMENT_ID"))
    emit(rows, fmt, ["id", "number", "created_at"])


@app.command("run")
def run(
    experiment_id: str,
    name: Annotated[str, typer.Option("--name", help="Label the run, e.g. pr-1234.")] = "",
    deployment_id: Annotated[str | None, typer.Option("--deployment-id", help="Candidate deployment to run.")] = None,
    experiment_version_id: Annotated[
        str | None, typer.Option("--experiment-version-id", help="Re-run an older experiment version.")
    ] = None,
    config: Annotated[
        str | None,
        typer.Option(
            "--config", help="JSON object overriding config keys for this run only, e.g. '{\"concurrency\": 4}'."
        ),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Block until the run finishes.")] = False,
    timeout: TimeoutOption = None,
    fail_on_gate: Annotated[
        bool,
        typer.Option("--fail-on-gate/--no-fail-on-gate", help="Exit 2 when the gate fails (--fail-on-gate=false)."),
    ] = True,
    fmt: FormatOption = Format.table,
) -> None:
    """Start a run (fire and forget; prints the run id), or with --wait block and gate.

    With --wait the exit code is the gate's verdict (the exit codes of `agnt5 --help`).
    """
    seconds = wait_timeout(wait, timeout)
    overrides = json_option(config, "--config") if config is not None else None
    eid = ref_now("experiment", experiment_id, "EXPERIMENT_ID")  # the standby forks before any store is open
    with standby_worker(experiment_id=UUID(eid)) as worker, gateway() as gw:
        body = {"name": name, "deployment_id": opt_ref(gw, "deployment", deployment_id, "--deployment-id"),
                "experiment_version_id": opt_ref(gw, "experiment_version", experiment_version_id,
                                                 "--experiment-version-id", eid),
                "config": overrides}  # fmt: skip
        summary = gw.start_run(eid, body, standby=worker)
        if not wait:
            print_created(fmt, summary, f"Started run {summary['name']!r} of experiment {experiment_id}")
            return
        note(f"Started run {summary['name']!r} ({summary['id']}); waiting")
        raise typer.Exit(wait_and_report(gw, summary["id"], seconds, fail_on_gate, fmt))


@runs.command("list")
def runs_list(experiment_id: str, fmt: FormatOption = Format.table) -> None:
    """List an experiment's runs: the fields of `runs show` (same names), but the per-scorer aggregates."""
    with gateway() as gw:
        emit(gw.runs(ref(gw, "experiment", experiment_id, "EXPERIMENT_ID")), fmt, RUN_COLUMNS)


@runs.command("show")
def runs_show(run_id: str, fmt: FormatOption = Format.table) -> None:
    """One run's summary: status, pass rate, gate and per-scorer aggregates."""
    with read_gateway() as gw:  # the read model alone: nothing of the write side is imported or opened
        show_summary(gw.summary(ref(gw, "run", run_id, "RUN_ID")), fmt)


@runs.command("cancel")
def runs_cancel(experiment_id: str, run_id: str, fmt: FormatOption = Format.table) -> None:
    """Cancel a running run; what finished before is kept."""
    with gateway() as gw:
        eid = ref(gw, "experiment", experiment_id, "EXPERIMENT_ID")
        show_summary(gw.cancel_run(eid, ref(gw, "run", run_id, "RUN_ID")), fmt)


@runs.command("compare")
def runs_compare(
    base_run_id: str,
    compare_run_id: str,
    strict: Annotated[
        bool, typer.Option("--strict", help="Refuse runs that differ in dataset version, scorers or config.")
    ] = False,
    scorer: Annotated[str, typer.Option("--scorer", help="Only the flipped items this scorer failed.")] = "",
    limit: Annotated[
        int | None, typer.Option("--limit", min=0, help=f"List at most N flips of each kind (table: {DEFAULT_LIMIT}).")
    ] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Compare a candidate run with a baseline, item by item: pass-rate and score deltas with 95% confidence
    intervals, a verdict (within noise or a significant regression/improvement), and each flipped item with its
    input, expected output, both outputs and the scorers that failed it."""
    if limit is None and fmt is Format.table:
        limit = DEFAULT_LIMIT
    with gateway() as gw:
        base, other = ref(gw, "run", base_run_id, "BASE_RUN_ID"), ref(gw, "run", compare_run_id, "COMPARE_RUN_ID")
        if fmt is Format.table:
            show_compare(gw.compare_runs(base, other, strict=strict, scorer=scorer, limit=limit), fmt)
        else:  # the flips' values read and printed a page at a time: any run's size
            emit_streamed(gw.compare_stream(base, other, strict=strict, scorer=scorer, limit=limit), fmt)


@runs.command("rerun")
def runs_rerun(
    run_id: str,
    name: Annotated[str, typer.Option("--name", help="Label the new run (default: the source's name + -rerun).")] = "",
    wait: Annotated[bool, typer.Option("--wait", help="Block until the run finishes.")] = False,
    timeout: TimeoutOption = None,
    fail_on_gate: Annotated[
        bool,
        typer.Option("--fail-on-gate/--no-fail-on-gate", help="Exit 2 when the gate fails (--fail-on-gate=false)."),
    ] = True,
    fmt: FormatOption = Format.table,
) -> None:
    """Run again what a run ran: the same experiment version, dataset version, config and deployment, as a new run
    linked to it (source_run_id). With --wait the exit code is the gate's verdict.

    A snapshot deployment runs the same code, so a deterministic component gives the same results (`runs compare`
    shows no difference); an editable one runs its files as they are now.
    """
    seconds = wait_timeout(wait, timeout)
    with standby_worker() as worker, gateway() as gw:
        summary = gw.rerun(ref(gw, "run", run_id, "RUN_ID"), name, standby=worker)
        if not wait:
            print_created(fmt, summary, f"Started run {summary['name']!r}, a rerun of {run_id}")
            return
        note(f"Started run {summary['name']!r} ({summary['id']}), a rerun of {run_id}; waiting")
        raise typer.Exit(wait_and_report(gw, summary["id"], seconds, fail_on_gate, fmt))


@runs.command("regression-dataset")
def runs_regression_dataset(
    run_id: str,
    name: Annotated[str, typer.Option("--name", help="Name of the new dataset and experiment.")],
    run_item_id: Annotated[
        list[str] | None, typer.Option("--run-item-id", help="Only these items. Repeatable.")
    ] = None,
    start_run: Annotated[
        bool, typer.Option("--start-run", help="Start the regression experiment's first run.")
    ] = False,
    deployment_id: Annotated[str | None, typer.Option("--deployment-id", help="Run it against this candidate.")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="With --start-run: wait and gate (same exit codes).")] = False,
    timeout: TimeoutOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Turn a run's failed items into a published dataset, an experiment over it, and optionally a run."""
    if wait and not start_run:
        raise Invalid("only applies with --start-run: without it no run starts to wait on", field="--wait")
    seconds = wait_timeout(wait, timeout)
    ids = [str(uuid_arg(r, "--run-item-id")) for r in run_item_id or []]
    with standby_worker(start_run) as worker, gateway() as gw:
        body = {"name": name, "run_item_ids": ids, "start_run": start_run,
                "deployment_id": opt_ref(gw, "deployment", deployment_id, "--deployment-id")}  # fmt: skip
        result = gw.regression_dataset(ref(gw, "run", run_id, "RUN_ID"), body, standby=worker)
        if fmt is Format.table:
            note(f"Created dataset {result['dataset_id']} ({result['items']} items, version "
                 f"{result['dataset_version_id']}) and experiment {result['experiment_id']}")  # fmt: skip
            if result["run"]:
                note(f"Started run {result['run']['id']}")
        else:
            emit(result, fmt)
        if start_run and wait:
            raise typer.Exit(wait_and_report(gw, result["run"]["id"], seconds, True, fmt))
        if fmt is Format.table:
            typer.echo(result["dataset_id"])


@runs.command("rescore")
def runs_rescore(
    run_id: str,
    builtin_scorer: ScorerOption = None,
    scorer_id: ScorerIdOption = None,
    run_item_id: Annotated[
        list[str] | None, typer.Option("--run-item-id", help="Only these items (default: every item with an output).")
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why, kept with the rescore.")] = "",
    replace_latest: Annotated[
        bool,
        typer.Option(
            "--replace-latest/--shadow", help="Make the new scores the run's current ones (its verdict changes)."
        ),
    ] = False,
    idempotency_key: Annotated[
        str, typer.Option("--idempotency-key", help="A retried request with the same key starts nothing new.")
    ] = "",
    wait: Annotated[bool, typer.Option("--wait", help="Block until the rescore finishes.")] = False,
    timeout: TimeoutOption = None,
    fail_on_gate: Annotated[
        bool,
        typer.Option(
            "--fail-on-gate/--no-fail-on-gate", help="With --wait --replace-latest: exit 2 on a failing gate."
        ),
    ] = True,
    fmt: FormatOption = Format.table,
) -> None:
    """Score a completed run's recorded outputs again, without executing anything (default: the run's scorers).

    A shadow rescore (default) only records the new scores (scores list --rescore-id); --replace-latest makes
    them the run's current scores, so its pass rate, gate and reports ci follow. Exit codes with --wait: 0 done
    (with --replace-latest: gate passed), 2 gate failed, 3 rescore failed, 4 wait timed out.
    """
    seconds = wait_timeout(wait, timeout)
    chosen = [str(uuid_arg(r, "--run-item-id")) for r in run_item_id or []]
    with standby_worker() as worker, gateway() as gw:
        rid = ref(gw, "run", run_id, "RUN_ID")
        body = {"scorers": builtin_scorer or [], "run_item_ids": chosen, "reason": reason,
                "scorer_version_ids": refs(gw, "scorer", scorer_id, "--scorer-id"),
                "replace_latest": replace_latest, "idempotency_key": idempotency_key}  # fmt: skip
        summary = gw.start_rescore(rid, body, standby=worker)
        if not wait:
            print_created(fmt, summary, f"Started rescore of run {rid}")
            return
        note(f"Started rescore {summary['id']} of run {rid}; waiting")
        raise typer.Exit(wait_for_rescore_and_report(gw, summary["id"], seconds, fail_on_gate, fmt))


@runs.command("rescores")
def runs_rescores(run_id: str, fmt: FormatOption = Format.table) -> None:
    """List a run's rescores."""
    with gateway() as gw:
        rows = gw.rescores(ref(gw, "run", run_id, "RUN_ID"))
    emit(rows, fmt, ["id", "status", "replace_latest", "total", "done", "passed", "failed", "errored", "created_at"])


@runs.command("rescore-show")
def runs_rescore_show(rescore_id: str, fmt: FormatOption = Format.table) -> None:
    """One rescore: counts, per-scorer aggregates of its scores, and the items whose status changed."""
    with gateway() as gw:
        show_rescore(gw.rescore(str(uuid_arg(rescore_id, "RESCORE_ID"))), fmt)


@runs.command("rescore-cancel")
def runs_rescore_cancel(rescore_id: str, fmt: FormatOption = Format.table) -> None:
    """Cancel a running rescore: what it recorded stays; a replacing one frees its run for another."""
    rid = uuid_arg(rescore_id, "RESCORE_ID")
    with gateway() as gw:
        show_rescore(gw.cancel_rescore(str(rid)), fmt)


runs.command("replay")(replay)


def _target_refs(
    gw: Gateway, target_type: str, deployment_id: str | None, prompt_id: str | None, prompt_version_id: str | None
) -> tuple[str | None, str | None, str | None]:
    """The target's references as ids: a prompt target's prompt and version (by number), else the deployment
    (options the target type ignores are left as given)."""
    if target_type != "prompt":
        return opt_ref(gw, "deployment", deployment_id, "--deployment-id"), prompt_id, prompt_version_id
    prompt = opt_ref(gw, "prompt", prompt_id, "--prompt-id")
    version = opt_ref(gw, "prompt_version", prompt_version_id, "--prompt-version-id", prompt or "") if prompt else None
    return deployment_id, prompt, version
