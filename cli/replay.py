"""``agnt5 experiments runs replay``: re-derive a finished run's scores, summary and gate from the log alone."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import typer

from agnt5_evals.cli.common import Format, FormatOption, emit, note, services, table
from agnt5_evals.cli.gateway import Local
from agnt5_evals.cli.refs import ref

EXIT_MISMATCH = 2


def replay(run_id: str, fmt: FormatOption = Format.table) -> None:
    """Re-derive every score of a finished run from the log alone, and its summary and gate, and compare.

    Outputs and traces come from the recorded items, LLM judges answer from their recorded requests and
    responses, custom scorers run again from their deployment in a child process; no target is called.
    It exits 0 when every score, the summary and the gate match, and 2 when something does not (listed) or a score
    could not be replayed (a custom scorer served over HTTP).
    """
    with services(catch_up=True) as svc:
        from agnt5_evals.services.replay import replay_run  # the write side: only this command imports it

        report = replay_run(svc, UUID(ref(Local(svc), "run", run_id, "RUN_ID")))
    emit(report, fmt, render=_render)
    if not report["ok"] or report["skipped"]:
        raise typer.Exit(EXIT_MISMATCH)


def _render(report: dict[str, Any]) -> None:
    table(
        report["scorers"], ["scorer", "total", "matched", "mismatched", "skipped"], f"Replay of run {report['run_id']}"
    )
    if report["mismatches"]:
        rows = [{**m, "recorded": str(m["recorded"])[:80], "replayed": str(m["replayed"])[:80]}
                for m in report["mismatches"]]  # fmt: skip
        table(rows, ["position", "run_item_id", "scorer", "field", "recorded", "replayed"], "Scores that differ")
    for difference in report["summary"]["differences"]:
        note(f"summary {difference['field']}: the log gives {difference['log']}, the read model shows "
             f"{difference['view']}")  # fmt: skip
    for skipped in report["skipped_scores"][:5]:
        note(f"not replayed: {skipped['scorer']} of {skipped['run_item_id']}: {skipped['reason']}")
    verdict = "everything matches" if report["ok"] and not report["skipped"] else "the log and the record differ"
    note(f"{report['matched']} of {report['scores']} scores matched exactly over {report['items']} items; {verdict}")
