"""The worker process: ``python -m runner.worker RUN_ID`` executes one run, detached from the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from uuid import UUID

from runner.bootstrap import Settings, build
from runner.execute import Executor


def launch(run_id: UUID, settings: Settings) -> subprocess.Popen[bytes]:
    """Start a detached worker for a run; it outlives the caller."""
    logs = settings.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = (logs / f"run-{run_id}.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "runner.worker", str(run_id)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
        env={**os.environ, "AGNT5_HOME": str(settings.home), "AGNT5_DATABASE_URL": settings.database_url},
        cwd=str(Path.cwd()),
    )
    log.close()
    return proc


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    with build() as services:
        status = Executor(services, UUID(args[0])).execute()
    print(f"run {args[0]}: {status}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
