"""The registry of worker processes is shared by the API server's threads."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from agnt5_evals.services import operations


class FinishedWorker:
    """A worker that has exited; ``poll`` takes a moment, as waitpid may under load."""

    pid = 0

    def poll(self) -> int:
        time.sleep(0.05)
        return 0


def test_threads_handing_workers_at_once_do_not_trip_over_reaping(monkeypatch):
    monkeypatch.setattr(operations, "launch", lambda target, settings: FinishedWorker())
    monkeypatch.setattr(operations, "_workers", {"finished-run": FinishedWorker()})
    monkeypatch.setattr(operations, "_relaunches", {})
    errors: list[str] = []

    def hand(target: str) -> None:
        try:
            operations._hand(SimpleNamespace(settings=None, queued=False), target, None)  # type: ignore[arg-type]
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=hand, args=(f"run-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and "finished-run" not in operations._workers
    # every worker here has finished, so each hand reaps the earlier ones: at least the last one handed is kept
    assert operations._workers and set(operations._workers) <= {f"run-{n}" for n in range(4)}
