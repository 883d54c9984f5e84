"""Execute a run to a terminal state in this process: load its target and items, dispatch all of its shards
(``worker.dispatch``, the same code a pool worker runs on one shard), and complete or fail the run."""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Callable
from uuid import UUID

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.adapters.bundles import code_path
from agnt5_evals.adapters.targets import load_target
from agnt5_evals.domain.errors import Conflict
from agnt5_evals.domain.model import DatasetVersion, Deployment
from agnt5_evals.domain.runs import Run
from agnt5_evals.worker.dispatch import CHUNK_ITEMS, Dispatch, log
from agnt5_evals.worker.items import VersionItems
from agnt5_evals.worker.scoring import ScorerRuntime

PRELOADED: dict[UUID, VersionItems] = {}  # a dataset version whose first items a standby read while it waited


class Executor:
    """Drives one run to a terminal state; the only writer of that run while it executes."""

    def __init__(self, services: Services, run_id: UUID, chunk_items: int = CHUNK_ITEMS,
                 owned: Callable[[], bool] = lambda: True) -> None:  # fmt: skip
        self.services = services
        self.owned = owned  # whether this worker still holds the run's lock (worker.locks.RunLock.check)
        self.app = services.app
        self.run_id = run_id
        self.chunk_items = chunk_items
        self.scoring = ScorerRuntime(
            lambda deployment_id: self.app.get(Deployment, deployment_id, "deployment"),
            lambda deployment: code_path(self.app, services.settings.home, deployment),
        )

    def execute(self) -> str:
        run = self.app.get(Run, self.run_id, "run")
        if run.status != "running":
            self.services.catch_up_quietly()  # a relaunched worker of a finished run: bring the read model up to date
            return str(run.status)
        try:
            target = load_target(self.services, run.spec)
            version = self.app.get(DatasetVersion, run.dataset_version_id, "dataset version")
            items = PRELOADED.pop(version.id, None) or VersionItems.of(self.app, version)  # read as dispatched
            log(f"run {run.id}: {run.total - run.next_position} of {run.total} items to execute, {run.n_shards} shards")
            dispatch = Dispatch(self.app, self.scoring, run, target, items, self.chunk_items, self.owned)
            run = dispatch.drive()
            log(f"run {run.id}: dispatch ended, {run.status}" + (", left to another worker" if dispatch.lost else ""))
            if run.status == "running" and not dispatch.lost:  # nothing was left to record (an empty run)
                self.app.complete_run(run.id)
        except Exception as exc:
            traceback.print_exc()
            with contextlib.suppress(Conflict):  # Conflict: it ended meanwhile (a cancel)
                self.app.fail_run(self.run_id, f"{type(exc).__name__}: {exc}"[:500])
        finally:
            self.scoring.close()
            self.services.catch_up_quietly()  # each command caught up already; this retries one that could not
        return str(self.app.get(Run, self.run_id, "run").status)
