"""A run's summary from the read model alone: shared by every edge, and by the CLI's read path, which opens no
application (``adapters.reads``)."""

from __future__ import annotations

from typing import Any

from agnt5_evals.adapters.reads import Reader
from agnt5_evals.domain.reports import run_stats, run_summary
from agnt5_evals.projections import queries
from agnt5_evals.services import finished, gates


def summary(svc: Reader, run_id: str, detail: bool = True) -> dict[str, Any]:
    """A run's summary; ``detail`` adds latency percentiles, tokens, repetition statistics and the replacing
    rescores whose scores it holds (``replaced_by``; a failed one left a mix of old and new scores). Its queries
    are one read transaction (on PostgreSQL, half the round trips)."""
    return svc.view.reading(lambda: _summary(svc, run_id, detail))


def _summary(svc: Reader, run_id: str, detail: bool) -> dict[str, Any]:
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
