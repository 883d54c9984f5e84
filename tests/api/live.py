"""The API served by uvicorn on a loopback port in a thread: real HTTP for clients such as the AGNT5 SDK."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from agnt5_evals.api.auth import ServerConfig
from agnt5_evals.api.main import create_app
from tests.support import wait_until


@contextmanager
def live_server(require_keys: bool = True, **server: Any) -> Iterator[str]:
    """Serve ``create_app()`` (the environment's stores; API keys required unless told) on 127.0.0.1 and a free
    port, with the other ``ServerConfig`` settings given; yields its base URL."""
    app = create_app(None, ServerConfig(require_keys=require_keys, **server))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive(), message="the server did not start")
        assert server.started, "the server stopped while starting"
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
