"""The worker process: ``python -m agnt5_evals.worker.worker RUN_ID`` executes (or resumes) one run, detached from
the CLI."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

from agnt5_evals.adapters.bootstrap import Services, Settings, build
from agnt5_evals.domain.tenancy import project_scope
from agnt5_evals.worker.execute import Executor
from agnt5_evals.worker.locks import RunLock
from agnt5_evals.worker.rescore import PREFIX, RescoreExecutor


def log_path(settings: Settings, target: str) -> Path:
    """A worker's log: ``logs/run-ID.log`` for a run, ``logs/rescore-ID.log`` for a rescore."""
    logs = settings.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    name = target.replace(":", "-") if target.startswith(PREFIX) else f"run-{target}"
    return logs / f"{name}.log"


def launch(run_id: UUID | str, settings: Settings) -> subprocess.Popen[bytes]:
    """Start a detached worker for a run; it outlives the caller."""
    with log_path(settings, str(run_id)).open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-P", "-m", "agnt5_evals.worker.worker", str(run_id)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            env={**os.environ, "AGNT5_HOME": str(settings.home), "AGNT5_DATABASE_URL": settings.database_url},
            cwd=str(Path.cwd()),
        )


def worker_settings(settings: Settings) -> Settings:
    """The run exists, so do the tables; one pooled connection is enough for the single writer."""
    return dataclasses.replace(settings, create_tables=False, pool_size=1)


def execute_owned(
    settings: Settings, run_id: str, services: Services | None = None, lock_connection: Any = None
) -> int:
    """Execute (or resume) a run, or a rescore (``rescore:ID``), if no other worker owns it; ``services`` may be
    opened already."""
    sys.setswitchinterval(float(os.environ.get("AGNT5_SWITCH_INTERVAL", "0.001")))
    lock = RunLock(settings, run_id, lock_connection)
    with project_scope(None), lock as held:  # the system scope: a worker executes runs of every project
        if not held:
            if services is not None:
                services.close()
            print(f"run {run_id}: another worker owns it", flush=True)
            return 0
        with services or build(settings) as svc:
            if run_id.startswith(PREFIX):  # a rescore, not a run
                status = RescoreExecutor(svc, UUID(run_id.removeprefix(PREFIX))).execute()
            else:
                status = Executor(svc, UUID(run_id), owned=lock.check).execute()
    print(f"run {run_id}: {status}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    return execute_owned(worker_settings(Settings.from_env()), args[0])


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # do not wait for item threads abandoned after a timeout or a cancel
