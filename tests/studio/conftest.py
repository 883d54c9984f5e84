"""Fixtures of the Studio's tests: the app in-process (``client``: fast page checks), a real server on a loopback
port (``studio_url``), and real Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright; never a downloaded
browser) whose last screen of each test is saved under ``test-artifacts/studio/`` (``AGNT5_TEST_ARTIFACTS``)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agnt5_evals.api.auth import ServerConfig
from agnt5_evals.api.main import create_app
from tests.api.live import live_server

ARTIFACTS = Path(os.environ.get("AGNT5_TEST_ARTIFACTS") or Path(__file__).resolve().parents[2] / "test-artifacts")


class Studio:
    """A ``TestClient`` on the Studio that sends the CSRF token with every form, as a Studio page does."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.client.get("/studio/login")  # sets the CSRF cookie

    @property
    def token(self) -> str:
        return str(self.client.cookies.get("agnt5_studio_csrf") or "")

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return self.client.post(path, data={"csrf_token": self.token, **(data or {})}, **kwargs)


@pytest.fixture
def client(store: str) -> Iterator[Studio]:
    """The Studio of a server that does not require keys (local use), on the test's store."""
    with TestClient(create_app(None, ServerConfig())) as test_client:
        yield Studio(test_client)


@pytest.fixture
def studio_url(store: str) -> Iterator[str]:
    """A real server (no keys required) on the test's store; its base URL."""
    with live_server(require_keys=False) as url:
        yield url


@pytest.fixture
def tab(chromium: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser tab (its own cookies). Its last screen is saved as ``test-artifacts/studio/<test>.png``;
    an ``alert`` fails the test (no page value may run as script); a ``confirm`` (cancel a run) is accepted."""
    context = chromium.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    alerts: list[str] = []

    def on_dialog(dialog: Any) -> None:
        if dialog.type == "confirm":
            dialog.accept()
        else:
            alerts.append(dialog.message)
            dialog.dismiss()

    page.on("dialog", on_dialog)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        ARTIFACTS.joinpath("studio").mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        try:
            page.screenshot(path=str(ARTIFACTS / "studio" / f"{name}.png"), full_page=True)
        finally:
            context.close()
    assert alerts == [], f"a value ran as script: {alerts}"
    assert errors == [], f"script errors on the page: {errors}"
