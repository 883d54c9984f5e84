"""The worker process: ``python -m runner.worker RUN_ID`` executes (or resumes) one run, detached from the CLI."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from uuid import UUID

from runner.bootstrap import Settings, build
from runner.execute import Executor
from runner.locks import RunLock


def launch(run_id: UUID | str, settings: Settings) -> subprocess.Popen[bytes]:
    """Start a detached worker for a run; it outlives the caller."""
    logs = settings.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / f"run-{run_id}.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "runner.worker", str(run_id)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            env={**os.environ, "AGNT5_HOME": str(settings.home), "AGNT5_DATABASE_URL": settings.database_url},
            cwd=str(Path.cwd()),
        )


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    sys.setswitchinterval(float(os.environ.get("AGNT5_SWITCH_INTERVAL", "0.001")))
    # The run exists, so do the tables; one pooled connection is enough for the single writer.
    settings = dataclasses.replace(Settings.from_env(), create_tables=False, pool_size=1)
    with RunLock(settings, args[0]) as held:
        if not held:
            print(f"run {args[0]}: another worker owns it")
            return 0
        with build(settings) as services:
            status = Executor(services, UUID(args[0])).execute()
    print(f"run {args[0]}: {status}", flush=True)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # do not wait for item threads abandoned after a timeout or a cancel
