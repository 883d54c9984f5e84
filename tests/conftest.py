"""Fixtures: an isolated AGNT5_HOME per test, and the same suites on SQLite and real PostgreSQL."""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType

import psycopg
import pytest

from agnt5_evals.adapters.bootstrap import Services, Settings

ROOT = Path(__file__).resolve().parents[1]


class _OnlyAsAgnt5Evals(importlib.abc.MetaPathFinder):
    """Refuse `import domain` (or cli, worker, ...) of the repository's own folders.

    pytest puts the repository root on sys.path (for `tests.*`), which would let a bare `import domain` work here
    and fail in an installed wheel, or resolve an old `domain.model:...` event topic by importing the folder a
    second time instead of through the topic alias. Packages of the same names elsewhere (a user's) still import.
    """

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if "." in fullname:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.origin and Path(spec.origin).resolve().parent.parent == ROOT:
            raise ModuleNotFoundError(f"No module named {fullname!r} (import agnt5_evals.{fullname})", name=fullname)
        return None


sys.meta_path.insert(0, _OnlyAsAgnt5Evals())

PG_BASE_URL = os.environ.get("AGNT5_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/agnt5_test")
STORES = ["sqlite", "postgresql"]
STALE_AFTER_S = 24 * 3600  # a database a killed session left behind is dropped by a later one after a day


def _base_name() -> str:
    return PG_BASE_URL.rsplit("/", 1)[1].split("?")[0]


def _session_database() -> str:
    """This session's own database: ``<base name>_<start time>_<uid>``, shared by the session's xdist workers.

    Two suites at once (a second checkout, CI on a shared server) must not share a database. The controller names
    it (``pytest_configure``) in its environment before it starts its workers, which inherit the name.
    """
    return os.environ["AGNT5_TEST_PG_DATABASE"]


def _url(database: str) -> str:
    server, _, rest = PG_BASE_URL.rpartition("/")
    query = rest.partition("?")[2]
    return f"{server}/{database}" + (f"?{query}" if query else "")


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(_url("postgres"), autocommit=True, connect_timeout=10)


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # the controller (or the only process): a new name, even if inherited
        os.environ["AGNT5_TEST_PG_DATABASE"] = f"{_base_name()}_{int(time.time())}_{uuid.uuid4().hex[:12]}"


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The controller drops the session's database once every worker is done (nothing if it was never made)."""
    if hasattr(session.config, "workerinput"):
        return
    with contextlib.suppress(psycopg.Error), _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{_session_database()}" WITH (FORCE)')


def _drop_stale_databases(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    base = _base_name()
    pattern = base.replace("_", r"\_") + r"\_%"
    for (name,) in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (pattern,)).fetchall():
        started = str(name)[len(base) + 1 :].split("_")[0]
        if started.isdigit() and int(started) < time.time() - STALE_AFTER_S:
            with contextlib.suppress(psycopg.Error):  # another session may be dropping it too
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_database() -> str:
    """Create this session's database (the server must be running: PostgreSQL tests never skip).

    Every xdist worker of the session may get here first: creating an existing database is not an error.
    """
    name = _session_database()
    with _admin() as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            _drop_stale_databases(conn)
            # two workers creating it at once: one wins, the other sees a duplicate (or a catalog unique violation)
            with contextlib.suppress(psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                conn.execute(f'CREATE DATABASE "{name}"')
    return _url(name)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "agnt5-home"
    monkeypatch.setenv("AGNT5_HOME", str(home))
    monkeypatch.delenv("AGNT5_DATABASE_URL", raising=False)
    return home


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run the test on SQLite and on PostgreSQL (a fresh schema per test)."""
    if request.param == "sqlite":
        yield "sqlite"
        return
    url = request.getfixturevalue("pg_database")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    monkeypatch.setenv("AGNT5_DATABASE_URL", f"{url}?schema={schema}")
    try:
        yield "postgresql"
    finally:
        _drop_schema(url, schema)


def _drop_schema(url: str, schema: str) -> None:
    """Drop a test's schema. A worker the test started may still be catching its view up: the drop then deadlocks
    with it (PostgreSQL aborts one of the two), so it tries again."""
    for attempt in range(1, 6):
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            return
        except psycopg.errors.DeadlockDetected:
            if attempt == 5:
                raise
            time.sleep(0.2 * attempt)


@pytest.fixture
def services(store: str) -> Iterator[Services]:
    svc = Services(Settings.from_env())
    try:
        yield svc
    finally:
        svc.close()


AGENT_MODULE = '''
from agnt5_evals import component


@component("support_agent", type="agent")
def support_agent(ctx, input):
    """Good agent: looks the order up, answers in JSON."""
    if input.get("explode"):
        raise RuntimeError("boom")
    order = ctx.tool_call("search_orders", {"order_id": input["order_id"]}, result={"status": "shipped"})
    return {"answer": f"Order {input['order_id']} is {order['status']}"}


@component("echo", type="function")
def echo(input):
    return input


@component("slow", type="function")
def slow(input):
    """Sleeps; a held item (input `hold` or env AGNT5_TEST_HOLD: a path) first waits until that file exists."""
    import os
    import time
    hold = input.get("hold") or os.environ.get("AGNT5_TEST_HOLD")
    held_until = time.monotonic() + 300  # a test that never releases must not leave a worker behind forever
    while hold and not os.path.exists(hold) and time.monotonic() < held_until:
        time.sleep(0.02)
    time.sleep(float(input.get("sleep", 0.5)))
    return input
'''

REGRESSED_MODULE = '''
from agnt5_evals import component


@component("support_agent", type="agent")
def support_agent(ctx, input):
    """Regressed agent: skips the tool for odd orders and answers in broken JSON."""
    if input["order_id"] % 2:
        return "{not json"
    order = ctx.tool_call("search_orders", {"order_id": input["order_id"]}, result={"status": "shipped"})
    return {"answer": f"Order {input['order_id']} is {order['status']}"}
'''


@pytest.fixture
def agent_dir(tmp_path: Path) -> Path:
    """A directory with two deployable modules: a good agent and a regressed one."""
    root = tmp_path / "agents"
    root.mkdir()
    (root / "good_agent.py").write_text(textwrap.dedent(AGENT_MODULE))
    (root / "regressed_agent.py").write_text(textwrap.dedent(REGRESSED_MODULE))
    return root


@pytest.fixture
def world(services: Services, agent_dir: Path) -> dict[str, object]:
    from tests.support import make_world

    return make_world(services, agent_dir)


CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """Debian's chromium driven by Playwright, one per test process: Playwright's sync API runs an event loop for
    as long as it is open, so a second one in the same process (another folder's fixture) would refuse to start."""
    if not CHROMIUM.exists():
        pytest.skip("no browser: /usr/bin/chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()
