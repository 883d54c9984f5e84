"""``agnt5 server``: the REST API under uvicorn, on loopback unless API keys are required.

The app is named by its import path (``agnt5_evals.api.main:server_app``): the CLI does not import the API. Its
settings reach it through the environment (``AGNT5_REQUIRE_API_KEYS``, ``AGNT5_ALLOWED_HOSTS``), which the app reads
when uvicorn builds it.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Annotated

import typer

from agnt5_evals.domain.errors import Invalid

APP = "agnt5_evals.api.main:server_app"
WILDCARDS = ("0.0.0.0", "::", "")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def server(
    host: Annotated[str, typer.Option("--host", help="Address to listen on; anything but loopback needs keys.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port.")] = 8000,
    require_keys: Annotated[
        bool, typer.Option("--require-keys", help="Refuse requests without an API key (AGNT5_REQUIRE_API_KEYS=1).")
    ] = False,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option("--allowed-host", help="A name clients reach the server by (Host header). Repeatable."),
    ] = None,
) -> None:
    """Serve the REST API (docs at /docs) over the store named by the environment.

    It listens on 127.0.0.1 by default. Listening anywhere else (0.0.0.0, a LAN address) is refused unless API keys
    are required (--require-keys): anyone who reaches the port could otherwise read and write every project. The
    server answers only to the Host names localhost, 127.0.0.1, ::1, the --host address, --allowed-host and
    AGNT5_ALLOWED_HOSTS (comma-separated): a page whose name was re-pointed at it (DNS rebinding) is refused. Make
    keys with `agnt5 keys create`; see docs/security.md.
    """
    limit = os.environ.get("AGNT5_MAX_BODY_BYTES", "").strip()
    if limit and (not limit.isdigit() or int(limit) < 1):
        raise Invalid(f"must be a number of bytes, got {limit[:40]!r}", field="AGNT5_MAX_BODY_BYTES")
    required = require_keys or _flag("AGNT5_REQUIRE_API_KEYS")
    if not is_loopback(host) and not required:
        raise Invalid(f"refusing to listen on {host} without API keys: add --require-keys, or listen on 127.0.0.1",
                      field="--host")  # fmt: skip
    names = [name.strip() for name in os.environ.get("AGNT5_ALLOWED_HOSTS", "").split(",") if name.strip()]
    names += [name.strip() for name in allowed_host or [] if name.strip()]
    if host.strip() not in WILDCARDS:
        names.append(host.strip().strip("[]"))
    os.environ["AGNT5_ALLOWED_HOSTS"] = ",".join(names)
    if required:
        os.environ["AGNT5_REQUIRE_API_KEYS"] = "1"
    import uvicorn  # only when serving: the rest of the CLI does not pay for it

    uvicorn.run(APP, factory=True, host=host, port=port, proxy_headers=False, server_header=False)
