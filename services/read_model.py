"""The read model's state: how far it is behind the event log, and rebuilding it."""

from __future__ import annotations

from typing import Any

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.projections.catchup import position


def status(svc: Services) -> dict[str, Any]:
    """The store, the log's head and the read model's position (without catching up first)."""
    head = svc.app.recorder.max_notification_id() or 0
    return {"store": svc.settings.store, "log_position": head, "view_position": position(svc.app, svc.view)}


def rebuild(svc: Services) -> int:
    """Drop the read model and rebuild it from the whole log; returns the position reached."""
    return svc.rebuild()
