"""Archiving a dataset or an experiment: a flag recorded as events, never a deletion.

An archived dataset or experiment is left out of lists (``--archived`` / ``?archived=true`` shows it); everything
it holds stays readable by id or name (show, versions, runs, the audit log). An archived experiment starts no new
runs (``Experiment.check_runnable``): unarchive it first.
"""

from __future__ import annotations

from uuid import UUID

from agnt5_evals.domain.errors import Conflict


def check_archiving(kind: str, ident: UUID, name: str, archived: bool, wanted: bool) -> None:
    """Conflict when the change is no change: archiving an archived one, unarchiving one that is not."""
    if archived == wanted:
        state = "already archived" if wanted else "not archived"
        raise Conflict(f"{kind} {ident} ({name}) is {state}")
