"""``agnt5 mcp``: the real server as a subprocess over stdio, driven by the MCP SDK's client, on each store."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import CallToolResult, TextContent

from tests.cli.conftest import data, out
from tests.support import release

AGNT5 = str(Path(sys.executable).parent / "agnt5")
ROOT = Path(__file__).resolve().parents[2]
SPEC_TOOLS = [
    "list_eval_datasets", "get_eval_dataset", "get_dataset_item_payload", "list_experiments", "get_experiment",
    "run_experiment", "get_experiment_run_summary", "list_experiment_failures", "compare_experiment_runs",
    "cancel_experiment_run", "list_scores", "get_score_evidence",
]  # fmt: skip
EVALS_TOOLS = ["list_eval_datasets", "get_eval_dataset", "get_dataset_item_payload", "list_scores",
               "get_score_evidence"]  # fmt: skip
EXPERIMENTS_TOOLS = ["list_experiments", "get_experiment", "run_experiment", "get_experiment_run_summary",
                     "list_experiment_failures", "cancel_experiment_run"]  # fmt: skip


def _env() -> dict[str, str]:
    """The store of the test (the SDK passes the server only a default environment plus this)."""
    return {key: os.environ[key] for key in ("AGNT5_HOME", "AGNT5_DATABASE_URL") if key in os.environ}


@asynccontextmanager
async def mcp_session(errlog: Path, *args: str) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(command=AGNT5, args=["mcp", *args], env=_env(), cwd=str(ROOT))
    with errlog.open("a") as log:
        async with stdio_client(params, errlog=log) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            yield session


def _text(result: CallToolResult) -> str:
    [block] = result.content
    assert isinstance(block, TextContent)
    return block.text


class Tools:
    """Call a tool and decode its JSON text; ``error`` expects a tool error and returns its message."""

    def __init__(self, session: ClientSession) -> None:
        self.session = session

    async def __call__(self, name: str, /, **arguments: Any) -> Any:
        result = await self.session.call_tool(name, arguments)
        assert not result.is_error, result.content
        decoded = json.loads(_text(result))
        assert result.structured_content == (decoded if isinstance(decoded, dict) else {"result": decoded})
        return decoded

    async def error(self, name: str, /, **arguments: Any) -> str:
        result = await self.session.call_tool(name, arguments)
        assert result.is_error, result.content
        return _text(result)


def _serve(tmp_path: Path, body: Callable[[Tools], Awaitable[None]], *args: str) -> None:
    async def main() -> None:
        async with mcp_session(tmp_path / "mcp.err", *args) as session:
            await body(Tools(session))

    asyncio.run(main())


def test_lists_the_spec_tools(store, tmp_path):
    async def body(tools: Tools) -> None:
        listed = await tools.session.list_tools()
        assert [tool.name for tool in listed.tools] == SPEC_TOOLS
        assert all(tool.description for tool in listed.tools)

    _serve(tmp_path, body)


def test_every_tool_on_the_product_page(agnt5, page, tmp_path):
    async def body(tool: Tools) -> None:
        good = await tool("run_experiment", experiment_id=page["experiment"], name="good-1", wait=True, timeout_s=120)
        assert (good["status"], good["passed_items"], good["gate"]["passed"], good["timed_out"]) == (
            "completed", 6, True, False)  # fmt: skip
        started = await tool("run_experiment", experiment_id=page["experiment"], deployment_id=page["bad"],
                             name="ci-1", config={"concurrency": 2})  # fmt: skip
        assert started["name"] == "ci-1" and "timed_out" not in started
        bad = data(agnt5("reports", "wait", started["id"], "--timeout", "2m", "--format", "json", code=2))
        summary = await tool("get_experiment_run_summary", run_id=bad["id"])
        assert summary == bad  # the CLI's --format json shape
        assert (summary["status"], summary["passed_items"], summary["gate"]["passed"]) == ("completed", 3, False)

        failures = await tool("list_experiment_failures", run_id=bad["id"])
        assert [f["status"] for f in failures] == ["failed"] * 3
        item = await tool("get_dataset_item_payload", dataset_version_id=page["version"],
                          item_id=failures[0]["dataset_item_id"])  # fmt: skip
        assert item["input"] == {"order_id": 1}

        compared = await tool("compare_experiment_runs", base_run_id=good["id"], compare_run_id=bad["id"])
        assert compared == data(agnt5("experiments", "runs", "compare", good["id"], bad["id"], "--format", "json"))
        assert len(compared["newly_failing"]) == 3 and compared["pass_rate_delta"] == -0.5

        scores = await tool("list_scores", run_id=bad["id"])
        assert len(scores) == 12
        failed = [s for s in await tool("list_scores", run_id=bad["id"], scorer="json_valid") if not s["passed"]]
        assert len(failed) == 3
        evidence = await tool("get_score_evidence", score_id=failed[0]["id"])
        assert evidence == data(agnt5("scores", "evidence", failed[0]["id"]))
        assert (await tool("get_score_evidence", score_id=failed[0]["id"], include="evidence")).keys() <= set(evidence)

        datasets = await tool("list_eval_datasets", search="support")
        assert [d["id"] for d in datasets] == [page["dataset"]]
        dataset = await tool("get_eval_dataset", dataset_id=page["dataset"])
        assert [v["id"] for v in dataset["versions_list"]] == [page["version"]]
        assert [e["id"] for e in await tool("list_experiments", dataset_id=page["dataset"])] == [page["experiment"]]
        experiment = await tool("get_experiment", experiment_id=page["experiment"])
        assert {r["id"] for r in experiment["runs"]} == {good["id"], bad["id"]}

    _serve(tmp_path, body)


def test_cancel_experiment_run_cancels_a_running_run(agnt5, page, tmp_path, monkeypatch):
    released = tmp_path / "release"
    monkeypatch.setenv("AGNT5_TEST_HOLD", str(released))  # the slow items wait for it: still running when cancelled
    slow = out(agnt5("experiments", "create", "--name", "slow", "--dataset-id", page["dataset"],
                     "--dataset-version-id", page["version"], "--deployment-id", page["good"],
                     "--component-name", "slow", "--component-type", "function", "--builtin-scorer", "json_valid",
                     "--config", '{"concurrency": 1}'))  # fmt: skip

    async def body(tool: Tools) -> None:
        started = await tool("run_experiment", experiment_id=slow, wait=True, timeout_s=0.2)
        assert (started["status"], started["timed_out"]) == ("running", True)
        cancelled = await tool("cancel_experiment_run", run_id=started["id"], experiment_id=slow)
        assert cancelled["status"] == "cancelled"
        again = await tool.error("cancel_experiment_run", run_id=started["id"])
        assert "cancelled" in again and "\n" not in again

    try:
        _serve(tmp_path, body)
    finally:
        release(released)


def test_domain_errors_are_tool_errors_and_the_server_goes_on(agnt5, page, tmp_path):
    missing = str(uuid.uuid4())

    async def body(tool: Tools) -> None:
        message = await tool.error("get_experiment_run_summary", run_id=missing)
        assert message.endswith(f"run {missing} not found")
        assert "\n" not in message
        assert "run_id" in await tool.error("get_experiment_run_summary", run_id="not-a-uuid")
        assert "not found" in await tool.error("run_experiment", experiment_id=missing)
        assert "give run_id" in await tool.error("list_scores")
        assert "include" in await tool.error("get_score_evidence", score_id=missing, include="everything")
        assert "not found" in await tool.error("get_dataset_item_payload", dataset_version_id=page["version"],
                                               item_id=missing)  # fmt: skip
        assert [d["id"] for d in await tool("list_eval_datasets")] == [page["dataset"]]

    _serve(tmp_path, body)


def test_services_narrow_the_tools_and_drop_compare(tmp_path):
    async def names(*args: str) -> list[str]:
        async with mcp_session(tmp_path / "mcp.err", *args) as session:
            return [tool.name for tool in (await session.list_tools()).tools]

    async def main() -> None:
        assert await names("--services", "evals") == EVALS_TOOLS
        assert await names("--services", "experiments") == EXPERIMENTS_TOOLS
        both = await names("--services", "experiments,evals")
        assert both == [name for name in SPEC_TOOLS if name != "compare_experiment_runs"]

    asyncio.run(main())


def test_unknown_service_is_a_usage_error():
    result = subprocess.run([AGNT5, "mcp", "--services", "evals,quality"], capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=60)  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == "error: --services: unknown service 'quality' (use evals, experiments)\n"
    assert result.stdout == ""
