"""The Studio's frame: signing in with a key (HttpOnly, SameSite cookie), CSRF, the security headers, the static
files, and `agnt5 studio`."""

from __future__ import annotations

import os
import subprocess
import sys
from uuid import UUID

import httpx
import pytest
from fastapi.testclient import TestClient

from agnt5_evals.adapters.bootstrap import Services, Settings
from agnt5_evals.api.auth import ServerConfig
from agnt5_evals.api.main import create_app
from agnt5_evals.services import keys
from tests.support import wait_until


def _key(scope: str = "write") -> str:
    svc = Services(Settings.from_env())
    try:
        return str(keys.create_key(svc, "default", scope, name="studio")["key"])
    finally:
        svc.close()


@pytest.fixture
def keyed(store: str):
    with TestClient(create_app(None, ServerConfig(require_keys=True))) as client:
        yield client


def test_a_server_that_requires_keys_sends_the_studio_to_its_login_form(keyed):
    answer = keyed.get("/studio/projects", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/studio/login?next=%2Fstudio%2Fprojects"
    form = keyed.get(answer.headers["location"])
    assert form.status_code == 200 and 'name="api_key"' in form.text
    cookie = form.headers["set-cookie"]
    assert "agnt5_studio_csrf=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_a_valid_key_is_kept_in_an_httponly_samesite_cookie_and_a_bad_one_is_refused(keyed):
    keyed.get("/studio/login")
    token = keyed.cookies.get("agnt5_studio_csrf")
    bad = keyed.post("/studio/login", data={"api_key": "agnt5_sk_nope", "csrf_token": token})
    assert bad.status_code == 401 and "not a valid, live key" in bad.text
    key = _key()
    good = keyed.post("/studio/login", data={"api_key": key, "csrf_token": token, "next": "/studio/projects"},
                      follow_redirects=False)  # fmt: skip
    assert good.status_code == 303 and good.headers["location"] == "/studio/projects"
    cookies = good.headers.get_list("set-cookie")
    kept = next(c for c in cookies if c.startswith("agnt5_studio_key="))
    assert key in kept and "HttpOnly" in kept and "SameSite=strict" in kept and "Path=/studio" in kept
    assert keyed.get("/studio/projects").status_code == 200


def test_login_goes_back_to_a_studio_page_only(keyed):
    for elsewhere in ("https://evil.example/", "//evil.example/studio", "/docs", "/studio\\@evil"):
        keyed.get("/studio/login")
        token = keyed.cookies.get("agnt5_studio_csrf")  # signing in makes a new one
        answer = keyed.post("/studio/login", data={"api_key": _key(), "csrf_token": token, "next": elsewhere},
                            follow_redirects=False)  # fmt: skip
        assert answer.headers["location"] == "/studio/", elsewhere


def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(keyed):
    keyed.get("/studio/login")
    answer = keyed.post("/studio/login", data={"api_key": _key(), "csrf_token": "forged"}, follow_redirects=False)
    assert answer.status_code == 403 and "agnt5_studio_key" not in answer.headers.get("set-cookie", "")


def test_a_revoked_key_ends_the_session(keyed):
    svc = Services(Settings.from_env())
    try:
        made = keys.create_key(svc, "default", "read", name="studio")
        keyed.cookies.set("agnt5_studio_key", str(made["key"]), path="/studio")
        assert keyed.get("/studio/projects").status_code == 200
        keys.revoke_key(svc, UUID(str(made["id"])))
    finally:
        svc.close()
    answer = keyed.get("/studio/projects", follow_redirects=False)
    assert answer.status_code == 303 and "no+longer+valid" in answer.headers["location"]


def test_every_page_carries_the_security_headers(keyed):
    answer = keyed.get("/studio/login")
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "no-store"


def test_static_files_are_a_fixed_list(keyed):
    assert keyed.get("/studio/static/htmx.min.js").status_code == 200
    assert keyed.get("/studio/static/studio.css").headers["content-type"].startswith("text/css")
    for name in ("web.py", "..%2Fweb.py", "VENDORED.md", "htmx.LICENSE.txt"):
        assert keyed.get(f"/studio/static/{name}").status_code == 404, name


def test_the_studio_is_not_part_of_the_rest_api_document(keyed):
    assert not [path for path in keyed.app.openapi()["paths"] if path.startswith("/studio")]


@pytest.mark.slow
def test_agnt5_studio_starts_a_server_or_finds_the_running_one(tmp_path):
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "agnt5_evals.cli.main", "studio", "--port", str(port), "--no-open"]
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert first.stdout is not None
        line = first.stdout.readline()
        assert line.startswith(f"http://127.0.0.1:{port}/studio/")
        wait_until(lambda: _answers(port), message="agnt5 studio did not serve")
        again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0 and again.stdout == f"http://127.0.0.1:{port}/studio/\n"
    finally:
        first.terminate()
        first.wait(timeout=60)


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/studio/ping", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_every_studio_route_but_sign_in_and_static_files_goes_through_the_session():
    """The session dependency is what checks the key, the scope, the project and the CSRF token: a route without it
    would be open."""
    from fastapi.routing import APIRoute

    from agnt5_evals.api.studio.pages import compare, core, datasets, experiments, items, runs
    from agnt5_evals.api.studio.session import studio_session

    def calls(dependant) -> set:
        found = {dependant.call}
        for sub in dependant.dependencies:
            found |= calls(sub)
        return found

    open_routes = {"/studio", "/studio/login", "/studio/ping", "/studio/static/{name}"}
    checked = []
    for module in (core, datasets, experiments, runs, items, compare):
        for route in module.router.routes:
            assert isinstance(route, APIRoute)
            if route.path in open_routes:
                continue
            checked.append(route.path)
            assert studio_session in calls(route.dependant), f"{route.methods} {route.path} skips the session"
    assert len(checked) > 25
