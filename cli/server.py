"""``agnt5 server``: the REST API under uvicorn, on loopback unless API keys are required.

The app is named by its import path (``agnt5_evals.api.main:server_app``): the CLI does not import the API. Its
settings reach it through the environment (``AGNT5_REQUIRE_API_KEYS``, ``AGNT5_ALLOWED_HOSTS``), which the app reads
when uvicorn builds it.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from typing import Annotated

import typer

from agnt5_evals.adapters.bootstrap import Settings
from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.tenancy import project_scope

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

    It listens on 127.0.0.1 by default. Listening anywhere else (0.0.0.0, a LAN address) is refused
    unless API keys are required (--require-keys): anyone who reaches the port could otherwise read
    and write every project. The server answers only to the Host names localhost, 127.0.0.1, ::1, the
    --host address, --allowed-host and AGNT5_ALLOWED_HOSTS (comma-separated): a page whose name was
    re-pointed at it (DNS rebinding) is refused. Make keys with `agnt5 keys create`; docs/security.md.
    """
    limit = os.environ.get("AGNT5_MAX_BODY_BYTES", "").strip()
    if limit and (not (limit.isascii() and limit.isdecimal()) or int(limit) < 1):
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
    settings = Settings.from_env()
    if settings.queued:  # the worker pool's server: the schema comes from `agnt5 db migrate`, never from here
        from agnt5_evals.worker.pool import check_migrated

        check_migrated(settings)
    import uvicorn  # only when serving: the rest of the CLI does not pay for it

    with project_scope(None):  # each request acts in its own project, never in the command's (--project-id)
        uvicorn.run(APP, factory=True, host=host, port=port, proxy_headers=False, server_header=False)


def _ours(base: str) -> bool | None:
    """Whether an agnt5 server answers at ``base`` (True), something else does (False), or nothing (None)."""
    import httpx

    try:
        answer = httpx.get(base + "/studio/ping", timeout=2.0)
    except httpx.HTTPError:
        return None
    return answer.status_code == 200 and answer.headers.get("x-agnt5-studio") == "1"


def studio(
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port of the local server.")] = 8000,
    open_browser: Annotated[
        bool, typer.Option("--open/--no-open", help="Open the Studio in a browser (default: when on a terminal).")
    ] = sys.stdout.isatty(),
) -> None:
    """Open the Studio: the Evaluate pages in a browser (docs/studio.md).

    It prints the Studio's address. With AGNT5_API_URL set, that is the team server's Studio. Else, when an
    agnt5 server already answers on 127.0.0.1:--port, that one's; otherwise it starts one there, on the
    store the environment names (the embedded SQLite store by default), and serves until Ctrl-C.
    """
    remote = os.environ.get("AGNT5_API_URL", "").strip().rstrip("/")
    if remote:
        _show(remote + "/studio/", open_browser)
        return
    base = f"http://127.0.0.1:{port}"
    found = _ours(base)
    if found is False:
        raise Invalid(f"something other than an agnt5 server answers on 127.0.0.1:{port}: pick another --port",
                      field="--port")  # fmt: skip
    if found:
        _show(base + "/studio/", open_browser)
        return
    typer.echo(f"{base}/studio/  (a server on this machine's store; Ctrl-C stops it)")
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(base + "/studio/",)).start()
    server(host="127.0.0.1", port=port, require_keys=False, allowed_host=None)


def _show(url: str, open_browser: bool) -> None:
    typer.echo(url)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
