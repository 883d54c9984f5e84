"""Every read of user-supplied JSON is strict (issue 9, 7): scorer specs, scorer test cases and MCP tool calls.

Uploads, JSON options and REST bodies are covered by test_inputs_json.py; these are the readers that were lax.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import mcp_types
import pytest

from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.scoring import parse_scorer_spec
from agnt5_evals.services.scorer_cases import parse_cases
from tests.cli.conftest import log_head

AGNT5 = str(Path(sys.executable).parent / "agnt5")
BIG = 2**64


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ('{"name": "contains", "config": {"pattern": "a", "pattern": "b"}}', "scorers[0].config",
         "the key 'pattern' appears twice"),
        ('{"name": "contains", "name": "json_valid"}', "scorers[0]", "the key 'name' appears twice"),
        ('{"name": "numeric_close", "config": {"tolerance": NaN}}', "scorers[0].config.tolerance", "NaN is not JSON"),
        (f'{{"name": "json_valid", "config": {{"n": {BIG}}}}}', "scorers[0].config.n", "outside 64 bits"),
        ('{"name": "contains", "config": {"pattern": "\\udc00"}}', "scorers[0].config.pattern", "lone surrogate"),
    ],
)  # fmt: skip
def test_a_scorer_spec_is_read_strictly(raw, field, message):
    with pytest.raises(Invalid) as caught:
        parse_scorer_spec(raw, "scorers[0]")
    assert (caught.value.field, message in caught.value.message) == (field, True), caught.value


def test_duplicate_keys_in_builtin_scorer_options_are_refused_and_nothing_is_written(agnt5):
    head = log_head()
    twice = '{"name":"tool_called","config":{"tool":"a","tool":"b"}}'
    ids = ["--dataset-id", str(uuid.uuid4()), "--dataset-version-id", str(uuid.uuid4())]
    target = ["--deployment-id", str(uuid.uuid4()), "--component-name", "c", "--component-type", "agent"]
    refused = agnt5("experiments", "create", "--name", "x", *ids, *target, "--builtin-scorer", twice, code=1)
    assert "error: --builtin-scorer: the key 'tool' appears twice in one object" in refused.stderr
    assert "Traceback" not in refused.stderr + refused.stdout
    tested = agnt5("scorers", "test", "--builtin-scorer", twice, "--cases", "-", input='{"output": 1}\n', code=1)
    assert "error: --builtin-scorer: the key 'tool' appears twice in one object" in tested.stderr
    assert log_head() == head


def test_scorer_test_cases_are_read_strictly(agnt5):
    with pytest.raises(Invalid) as caught:
        parse_cases('{"output": 1}\n{"output": 1, "output": 2}\n')
    refused = ("cases", "line 2: the key 'output' appears twice in one object")
    assert (caught.value.field, caught.value.message) == refused
    with pytest.raises(Invalid, match="outside 64 bits"):
        parse_cases(f'{{"output": {BIG}}}\n')
    refused = agnt5("scorers", "test", "--builtin-scorer", "json_valid", "--cases", "-",
                    input='{"output": "{}", "expected": 1, "expected": 2}\n', code=1)  # fmt: skip
    assert "error: --cases: line 1: the key 'expected' appears twice in one object" in refused.stderr


class RawMCP:
    """``agnt5 mcp`` driven with raw JSON-RPC lines (the SDK's client cannot write a duplicate key)."""

    def __init__(self, errlog: Path) -> None:
        env = {key: os.environ[key] for key in ("AGNT5_HOME", "AGNT5_DATABASE_URL", "PATH") if key in os.environ}
        self.errlog = errlog.open("w")
        self.proc = subprocess.Popen([AGNT5, "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.errlog, env=env)  # fmt: skip
        self.next_id = 0

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()

    def request(self, method: str, params_text: str) -> dict:
        """Send one request whose params are given as raw JSON text; its answer (skipping notifications)."""
        self.next_id += 1
        self.send(f'{{"jsonrpc": "2.0", "id": {self.next_id}, "method": "{method}", "params": {params_text}}}')
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            assert line, "the server closed its output"
            answer = json.loads(line)
            if answer.get("id") == self.next_id:
                return answer

    def call(self, tool: str, arguments_text: str) -> dict:
        return self.request("tools/call", f'{{"name": "{tool}", "arguments": {arguments_text}}}')["result"]

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.errlog.close()


@pytest.fixture
def raw_mcp(store, tmp_path):
    server = RawMCP(tmp_path / "mcp.err")
    try:
        client = {"name": "raw", "version": "0"}
        init = {"protocolVersion": mcp_types.LATEST_PROTOCOL_VERSION, "capabilities": {}, "clientInfo": client}
        assert "result" in server.request("initialize", json.dumps(init))
        server.send('{"jsonrpc": "2.0", "method": "notifications/initialized"}')
        yield server
    finally:
        server.close()


def test_mcp_tool_arguments_are_read_strictly_and_the_server_goes_on(raw_mcp, tmp_path):
    head = log_head()
    experiment = str(uuid.uuid4())
    cases = [
        ('{"concurrency": 2, "concurrency": 40}', "config", "the key 'concurrency' appears twice in one object"),
        ('{"concurrency": NaN}', "config.concurrency", "NaN is not JSON"),
        (f'{{"concurrency": {BIG}}}', "config.concurrency", "outside 64 bits"),
    ]
    for config, field, message in cases:
        result = raw_mcp.call("run_experiment", f'{{"experiment_id": "{experiment}", "config": {config}}}')
        assert result["isError"] is True and result["structuredContent"] == {
            "message": message if message.startswith("the key") else result["structuredContent"]["message"],
            "code": "invalid", "field": field}  # fmt: skip
        assert message in result["content"][0]["text"] and result["content"][0]["text"].startswith(f"{field}: ")
    twice = raw_mcp.call("run_experiment", f'{{"experiment_id": "{experiment}", "name": "a", "name": "b"}}')
    assert twice["structuredContent"] == {"message": "the key 'name' appears twice in one object", "code": "invalid",
                                          "field": "arguments"}  # fmt: skip
    surrogate = raw_mcp.call("list_eval_datasets", '{"search": "\\ud800"}')
    assert surrogate["structuredContent"]["field"] == "search" and "lone surrogate" in surrogate["content"][0]["text"]
    other = raw_mcp.request("tools/list", '{"cursor": "a", "cursor": "b"}')
    assert other["error"]["code"] == mcp_types.INVALID_PARAMS and "'cursor' appears twice" in other["error"]["message"]

    missing = raw_mcp.call("run_experiment", f'{{"experiment_id": "{experiment}", "config": {{"concurrency": 2}}}}')
    assert missing["isError"] is True and missing["structuredContent"]["code"] == "not_found"  # reached the tool
    assert raw_mcp.call("list_eval_datasets", "{}")["structuredContent"] == {"result": []}
    assert log_head() == head
    assert "Traceback" not in (tmp_path / "mcp.err").read_text()
