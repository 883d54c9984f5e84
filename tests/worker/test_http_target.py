"""The HTTP target adapter's protocol against a local stub server, and the worker that serves components."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from agnt5_evals import Context, TransientError
from agnt5_evals.adapters.http_target import HttpTarget, HTTPTargetError, RemoteComponentError, discover_http
from agnt5_evals.adapters.targets import FACTORIES, load_target
from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.model import Deployment
from agnt5_evals.worker.http_worker import make_server, serve

Answer = tuple[int, Any]  # (status, body): a str body is sent as is, anything else as JSON
Reply = Callable[[dict[str, Any]], Answer]

COMPONENTS = [{"name": "agent", "type": "agent"}]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def trace_of(run_id: str, tool: str = "search_orders") -> list[dict[str, Any]]:
    """The raw events a component records when it calls one tool."""
    ctx = Context(run_id)
    ctx.tool_call(tool, {"order_id": 1}, result={"status": "shipped"})
    return ctx.events


class Stub:
    """A local HTTP server: ``GET /components`` lists ``components``; each POST is answered by ``reply``."""

    def __init__(self, reply: Reply, components: Any = COMPONENTS) -> None:
        self.reply, self.components = reply, components
        self.requests: list[dict[str, Any]] = []
        self.peers: list[int] = []
        self.lock = threading.Lock()

    def answer(self, request: dict[str, Any], peer: int) -> Answer:
        with self.lock:
            self.requests.append(request)
            self.peers.append(peer)
        return self.reply(request)


class _StubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        stub: Stub = self.server.stub
        if self.path == "/components":
            self._send(200, stub.components)
        else:
            self._send(404, {"error": "no such path"})

    def do_POST(self) -> None:
        stub: Stub = self.server.stub
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self._send(*stub.answer(request, self.client_address[1]))

    def _send(self, status: int, body: Any) -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _StubServer(ThreadingHTTPServer):
    request_queue_size = 128  # many threads connect at once (the default backlog of 5 resets connections)


@contextmanager
def serving(stub: Stub) -> Iterator[str]:
    """Run the stub on a free local port; yields its URL."""
    server = _StubServer(("127.0.0.1", 0), _StubHandler)
    server.stub = stub
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def stub() -> Iterator[tuple[Stub, HttpTarget]]:
    """A stub whose answer each test sets, and an adapter pointing at it (timeout 2 s)."""
    fake = Stub(lambda request: (200, {"output": None, "events": []}))
    with serving(fake) as url:
        target = HttpTarget(url, "agent", "agent", 2.0)
        yield fake, target
        target.close()


def call(target: HttpTarget, payload: Any = None) -> tuple[Context, Any]:
    ctx = Context("item-1")
    ctx.event("run.started", {"input": payload})
    try:
        return ctx, target(ctx, payload)
    except Exception as exc:
        exc.ctx = ctx
        raise


# -- the adapter -----------------------------------------------------------------------------------------


def test_200_returns_the_output_and_appends_the_events_to_the_trace(stub):
    fake, target = stub
    fake.reply = lambda request: (200, {"output": {"answer": "shipped"}, "events": trace_of(request["run_id"])})
    ctx, output = call(target, {"order_id": 1})
    assert output == {"answer": "shipped"}
    assert fake.requests == [
        {"component_name": "agent", "component_type": "agent", "input": {"order_id": 1}, "run_id": "item-1"}
    ]
    kinds = [e["event_type"] for e in ctx.events]
    assert kinds == ["run.started", "tool.call.started", "tool.call.completed"]
    assert ctx.events[1]["parent_correlation_id"] == "item-1" and ctx.events[2]["data"]["tool_name"] == "search_orders"


def test_200_without_events_is_a_success_with_an_unchanged_trace(stub):
    fake, target = stub
    fake.reply = lambda request: (200, {"output": "plain"})
    ctx, output = call(target)
    assert output == "plain" and len(ctx.events) == 1


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_rate_limits_and_server_errors_are_transient_and_keep_their_events(stub, status):
    fake, target = stub
    fake.reply = lambda request: (status, {"error": "busy", "events": trace_of(request["run_id"])})
    with pytest.raises(TransientError, match=rf"HTTP {status} from http://127.0.0.1:.*: busy") as raised:
        call(target)
    assert [e["event_type"] for e in raised.value.ctx.events][1:] == ["tool.call.started", "tool.call.completed"]


def test_422_is_the_components_own_final_error_with_the_events_it_recorded(stub):
    fake, target = stub
    fake.reply = lambda request: (422, {"error": "ValueError: bad input", "events": trace_of(request["run_id"])})
    with pytest.raises(RemoteComponentError) as raised:
        call(target)
    error = raised.value
    assert not isinstance(error, TransientError)
    assert f"{type(error).__name__}: {error}" == "ValueError: bad input"  # as the executor records it
    assert len(error.ctx.events) == 3


def test_422_with_an_unstructured_error_is_a_component_error(stub):
    fake, target = stub
    fake.reply = lambda request: (422, "it broke")
    with pytest.raises(RemoteComponentError) as raised:
        call(target)
    assert f"{type(raised.value).__name__}: {raised.value}" == "ComponentError: it broke"


@pytest.mark.parametrize("status", [400, 401, 404, 409, 301])
def test_other_statuses_are_final_errors(stub, status):
    fake, target = stub
    fake.reply = lambda request: (status, {"error": "no component 'agent'"})
    with pytest.raises(HTTPTargetError, match=rf"HTTP {status} from .*: no component 'agent'") as raised:
        call(target)
    assert not isinstance(raised.value, TransientError)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("<html>oops</html>", "the body is not JSON"),
        ({"result": 1}, "the body has no 'output' field"),
        ([1, 2], "the body has no 'output' field"),
        ({"output": 1, "events": {"a": 1}}, "'events' must be a list of objects"),
        ({"output": 1, "events": ["x"]}, "'events' must be a list of objects"),
    ],
)
def test_a_malformed_200_is_a_final_error_naming_the_problem(stub, body, problem):
    fake, target = stub
    fake.reply = lambda request: (200, body)
    with pytest.raises(HTTPTargetError, match=problem):
        call(target)


def test_connection_refused_is_transient():
    target = HttpTarget(f"http://127.0.0.1:{free_port()}", "agent", "agent", 2.0)
    with pytest.raises(TransientError, match=r"ConnectError"):
        call(target)


def test_a_timeout_is_transient(stub):
    fake, target = stub

    gave_up = threading.Event()

    def slow(request: dict[str, Any]) -> Answer:
        gave_up.wait(120)  # answers only after the client timed out, however slow the machine
        return 200, {"output": 1}

    fake.reply = slow
    quick = HttpTarget(target.url, "agent", "agent", 0.2)
    try:
        with pytest.raises(TransientError, match=r"ReadTimeout"):
            call(quick)
    finally:
        gave_up.set()


def test_one_client_serves_every_item_and_thread(stub):
    fake, target = stub
    fake.reply = lambda request: (200, {"output": request["input"] * 2, "events": []})
    client = target.client
    assert [call(target, n)[1] for n in range(5)] == [0, 2, 4, 6, 8]
    assert len(set(fake.peers)) == 1  # sequential calls reuse one kept-alive connection
    results: dict[int, Any] = {}
    threads = [threading.Thread(target=lambda n=n: results.update({n: call(target, n)[1]})) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {n: n * 2 for n in range(16)} and target.client is client


def test_the_factory_is_registered_and_takes_the_timeout_from_the_config():
    deployment = Deployment(name="d", kind="http", module="", path="", url="http://127.0.0.1:9", components=COMPONENTS)

    def timeout(target: dict[str, Any]) -> float | None:
        adapter = FACTORIES["http"](None, {"component_name": "agent", "component_type": "agent", **target}, deployment)
        assert isinstance(adapter, HttpTarget) and adapter.url == "http://127.0.0.1:9"
        return adapter.client.timeout.read

    assert timeout({"config": {"timeout_s": 0.25}}) == 0.25
    assert timeout({"config": {"timeout_s": None}}) is None
    assert timeout({}) == 300.0


def test_importing_the_targets_registers_the_http_adapter():
    code = (
        "import sys, agnt5_evals.adapters.targets as t;"
        " print('httpx' in sys.modules, t.factory_for('http') is t.FACTORIES['http'])"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root).stdout
    assert out.split() == ["False", "True"]  # not imported at start-up, registered on first use


def test_load_target_builds_an_http_adapter_with_the_runs_timeout(services):
    url = f"http://127.0.0.1:{free_port()}"
    written = services.app.create_deployment("remote", "", "", COMPONENTS, url=url, kind="http")
    target = {"type": "component", "deployment_id": str(written.id), "component_name": "agent",
              "component_type": "agent"}  # fmt: skip
    adapter = load_target(services, {"target": target, "config": {"timeout_s": 7}})
    assert isinstance(adapter, HttpTarget) and (adapter.url, adapter.client.timeout.read) == (url, 7.0)


def test_create_deployment_checks_the_source_of_each_kind(services):
    app = services.app
    with pytest.raises(Invalid, match=r"url"):
        app.create_deployment("remote", "", "", COMPONENTS, kind="http")
    with pytest.raises(Invalid, match=r"module, url"):
        app.create_deployment("both", "mod", "", COMPONENTS, url="http://x", kind="http")
    with pytest.raises(Invalid, match=r"url: http://x serves no components"):
        app.create_deployment("empty", "", "", [], url="http://x", kind="http")
    with pytest.raises(Invalid, match=r"kind"):
        app.create_deployment("grpc", "", "", COMPONENTS, url="http://x", kind="grpc")


# -- discovery -------------------------------------------------------------------------------------------


def test_discovery_lists_the_components():
    with serving(Stub(lambda r: (200, {}), components=[*COMPONENTS, {"name": "x", "type": "tool", "v": 1}])) as url:
        assert discover_http(url) == [*COMPONENTS, {"name": "x", "type": "tool"}]


@pytest.mark.parametrize("answer", [{"name": "agent"}, [{"name": "agent"}], [{"type": "agent"}], ["agent"], "<html>"])
def test_a_bad_discovery_answer_is_an_input_error_naming_url(answer):
    with serving(Stub(lambda r: (200, {}), components=answer)) as url, pytest.raises(Invalid, match=r"^url: "):
        discover_http(url)


def test_an_unreachable_or_failing_discovery_is_an_input_error_naming_url():
    with pytest.raises(Invalid, match=r"^url: cannot reach .*/components"):
        discover_http(f"http://127.0.0.1:{free_port()}")
    with serving(Stub(lambda r: (200, {}))) as url, pytest.raises(Invalid, match=r"^url: .* answered HTTP 404"):
        discover_http(url + "/nowhere")


# -- the worker that serves a module ---------------------------------------------------------------------

SERVED = """
import time
from agnt5_evals import TransientError, component


@component("agent", type="agent")
def agent(ctx, input):
    ctx.tool_call("search_orders", {"order_id": input["order_id"]}, result={"status": "shipped"})
    if input.get("flaky"):
        raise TransientError("rate limited")
    if input.get("boom"):
        raise ValueError("bad input")
    if input.get("opaque"):
        return object()
    return {"answer": "shipped"}


@component("upper", type="function")
async def upper(input):
    return input.upper()
"""


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[str]:
    """``make_server`` + ``serve`` of a fresh module, in a thread; yields its URL."""
    module = f"served_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(SERVED))
    server = make_server(module, str(tmp_path), "127.0.0.1", 0)
    thread = threading.Thread(target=serve, args=(server,), daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        thread.join(5)


def post(url: str, body: Any) -> httpx.Response:
    return httpx.post(url, content=body if isinstance(body, bytes) else json.dumps(body).encode(), timeout=5)


def test_worker_lists_its_components(worker):
    listed = httpx.get(worker + "/components").json()
    assert listed["components"] == [{"name": "agent", "type": "agent"}, {"name": "upper", "type": "function"}]
    assert listed["build"].startswith("sha256:")  # the module has no __version__: the digest of its tree


def test_worker_answers_200_with_output_and_events_under_the_callers_run_id(worker):
    response = post(worker, {"component_name": "agent", "component_type": "agent", "input": {"order_id": 4},
                             "run_id": "item-9"})  # fmt: skip
    assert response.status_code == 200
    body = response.json()
    assert body["output"] == {"answer": "shipped"}
    assert [e["event_type"] for e in body["events"]] == ["tool.call.started", "tool.call.completed"]
    assert {e["parent_correlation_id"] for e in body["events"]} == {"item-9"}
    assert post(worker, {"component_name": "upper", "input": "abc"}).json() == {"output": "ABC", "events": []}


@pytest.mark.parametrize(
    ("payload", "status", "error"),
    [
        ({"order_id": 1, "flaky": True}, 503, "TransientError: rate limited"),
        ({"order_id": 1, "boom": True}, 422, "ValueError: bad input"),
        ({"order_id": 1, "opaque": True}, 422, "TypeError: the output is not JSON-serializable"),
        ({}, 422, "KeyError: 'order_id'"),
    ],
)
def test_worker_maps_a_failing_component_to_its_status_with_the_events_so_far(worker, payload, status, error):
    response = post(worker, {"component_name": "agent", "input": payload})
    assert response.status_code == status
    assert response.json()["error"].startswith(error)
    expected = [] if not payload else ["tool.call.started", "tool.call.completed"]
    assert [e["event_type"] for e in response.json()["events"]] == expected


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        ("", {"component_name": "nope", "input": 1}, 404, "no component 'nope'"),
        ("", {"component_name": "agent", "component_type": "tool", "input": 1}, 400, "is a agent, not a tool"),
        ("", {"input": 1}, 400, "component_name"),
        ("", b"{not json", 400, "not JSON"),
        ("/other", {"component_name": "agent", "input": 1}, 404, "no such path"),
    ],
)
def test_worker_refuses_unknown_components_and_malformed_requests(worker, path, body, status, error):
    response = post(worker + path, body)
    assert response.status_code == status and error in response.json()["error"]


def test_the_adapter_and_the_worker_speak_the_same_protocol(worker):
    target = HttpTarget(worker, "agent", "agent", 5.0)
    ctx, output = call(target, {"order_id": 2})
    assert output == {"answer": "shipped"} and len(ctx.events) == 3
    with pytest.raises(TransientError, match=r"HTTP 503 .*rate limited"):
        call(target, {"order_id": 2, "flaky": True})
    with pytest.raises(RemoteComponentError) as raised:
        call(target, {"order_id": 2, "boom": True})
    assert f"{type(raised.value).__name__}: {raised.value}" == "ValueError: bad input"
    assert [e["event_type"] for e in raised.value.ctx.events] == ["run.started", "tool.call.started",
                                                                   "tool.call.completed"]  # fmt: skip


def test_make_server_errors_name_the_argument(tmp_path):
    with pytest.raises(Invalid, match=r"^module: cannot import 'no_such_module_xyz'"):
        make_server("no_such_module_xyz", str(tmp_path), "127.0.0.1", 0)
    (tmp_path / "empty_mod_http.py").write_text("X = 1\n")
    with pytest.raises(Invalid, match=r"^module: empty_mod_http defines no components"):
        make_server("empty_mod_http", str(tmp_path), "127.0.0.1", 0)
    module = f"served_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(SERVED))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(Invalid, match=r"^host, port: cannot listen on"):
            make_server(module, str(tmp_path), "127.0.0.1", busy.getsockname()[1])


def test_discovery_reads_the_build_a_worker_reports_and_old_bare_lists(tmp_path):
    from agnt5_evals.adapters.http_target import discover_http_build

    for answer, build in (({"components": COMPONENTS, "version": "1.4.2"}, "1.4.2"),
                          ({"components": COMPONENTS, "build": "abc123"}, "abc123"), (COMPONENTS, "")):  # fmt: skip
        with serving(Stub(lambda r: (200, {}), components=answer)) as url:
            assert discover_http_build(url) == (COMPONENTS, build)
    bad = Stub(lambda r: (200, {}), components={"components": COMPONENTS, "build": ["x"]})
    with serving(bad) as url, pytest.raises(Invalid):
        discover_http_build(url)
