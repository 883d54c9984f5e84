"""Dependencies shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from agnt5_evals.adapters.bootstrap import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    services.catch_up()  # read-your-writes for every request
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
