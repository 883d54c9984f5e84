"""Resuming runs (and rescores) whose worker died: any running one whose lock is free gets a new worker."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.projections.views import EvalsView
from agnt5_evals.worker.locks import is_owned
from agnt5_evals.worker.rescore import PREFIX
from agnt5_evals.worker.worker import launch


def running_runs(view: EvalsView) -> list[str]:
    """Worker targets still running: run ids, then ``rescore:ID`` for rescores."""
    runs = view.query("SELECT id FROM {p}runs WHERE status = 'running' ORDER BY created_at")
    rescores = view.query("SELECT id FROM {p}rescores WHERE status = 'running' ORDER BY created_at")
    return [row["id"] for row in runs] + [PREFIX + row["id"] for row in rescores]


def resume_orphans(svc: Services, on_resume: Callable[[str], None] | None = None) -> dict[str, subprocess.Popen[bytes]]:
    """Launch a worker for every running run that no live worker owns; return the launched processes."""
    svc.catch_up()
    launched = {}
    for run_id in running_runs(svc.view):
        if not is_owned(svc.settings, run_id):
            launched[run_id] = launch(run_id, svc.settings)
            if on_resume is not None:
                on_resume(run_id)
    return launched


def supervise(svc: Services, once: bool, poll_s: float, on_resume: Callable[[str], None]) -> int:
    """Keep every running run owned by a live worker; with ``once``, resume the orphans and wait for them."""
    children: dict[str, subprocess.Popen[bytes]] = {}
    while True:
        for run_id, proc in resume_orphans(svc, on_resume).items():
            children[run_id] = proc
        if once:
            for proc in children.values():
                proc.wait()
            svc.catch_up()
            return len(children)
        time.sleep(poll_s)
        children = {run_id: proc for run_id, proc in children.items() if proc.poll() is None}
