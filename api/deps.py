"""Dependencies shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from agnt5_evals.adapters.bootstrap import Services


def get_services(request: Request) -> Services:
    """The server's stores. A request never catches the read model up (reads never write): a command catches up
    its own events, and the server's background thread those of other processes (workers)."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
