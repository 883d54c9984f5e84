"""`experiments runs replay`: every score of a finished run re-derived from the log alone, with no network.

The run uses every built-in scorer, LLM judges (a loopback fake provider while the run executes) and a custom
scorer; replay then runs with every socket connection refused (only the PostgreSQL server stays reachable, since
it is the store), in this process and in the custom scorer's child process.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import textwrap
from pathlib import Path
from typing import Any

import pytest

from agnt5_evals.domain.scoring import BUILTINS
from tests.cli.conftest import Agnt5, data, out
from tests.fakes.llm_server import FakeLLM

pytestmark = pytest.mark.local_only  # replay re-derives scores offline from this machine's log

CONFIGS: dict[str, dict[str, Any]] = {
    "agent_judge": {"model": "judge-good", "criteria": "answers with the order status"},
    "correctness": {"model": "judge-good"},
    "faithfulness": {"model": "judge-good", "context_field": "input.policy"},
    "goal_success": {"model": "judge-good"},
    "llm_judge": {"model": "judge-good", "criteria": "gives the order status"},
    "contains": {"pattern": "shipped"},
    "exact_match": {},
    "json_schema": {"schema": {"type": "object", "required": ["answer"]}},
    "json_valid": {},
    "levenshtein": {},
    "numeric_range": {"min": 0, "max": 10, "path": "order_id"},
    "regex_match": {"pattern": "Order [0-9]+"},
    "structured_assertions": {"assertions": [{"name": "has answer", "expr": "is_string(output.answer)"}]},
    "duration_under": {"max_ms": 600000},
    "max_llm_calls": {"max": 3},
    "max_tokens": {"max": 1000},
    "max_tool_calls": {"max": 3},
    "no_errors": {},
    "plan_adherence": {},
    "plan_quality": {},
    "state_equals": {"name": "ticket", "expected": {"status": "answered"}},
    "step_efficiency": {},
    "tool_called": {"tool": "search_orders"},
    "tool_failure_recovered": {},
    "tool_not_called": {"tool": "refund"},
    "tool_params_match": {"tool": "search_orders", "params": {"order_id": 1}},
    "tool_sequence": {"tools": ["search_orders"]},
    "tool_sequence_any_order": {"tools": ["search_orders"]},
    "tool_sequence_exact": {"tools": ["search_orders"]},
    "tool_sequence_in_order": {"tools": ["search_orders"]},
    "tool_trajectory": {"tools": ["search_orders"]},
}

AGENT = """
from agnt5_evals import component, scorer


@component("traced_agent", type="agent")
def traced_agent(ctx, input):
    order = input["order_id"]
    ctx.llm_call("planner", input_tokens=20, output_tokens=5)
    if order % 3 == 0:
        ctx.tool_call("search_orders", {"order_id": order}, error="TimeoutError: upstream")
    status = ctx.tool_call("search_orders", {"order_id": order}, result={"status": "shipped"})["status"]
    ctx.event("workflow.state.changed", {"name": "ticket", "value": {"status": "answered" if order % 2 else "open"}})
    if order == 4:
        raise RuntimeError("the agent fell over")
    return {"answer": f"Order {order} is {status}" if order % 2 else "I do not know"}


@scorer("cites_order")
def cites_order(request):
    hit = str(request["input"]["order_id"]) in str(request["output"])
    return {"score": 1.0 if hit else 0.0, "explanation": f"run item {request['metadata']['run_item_id'][:8]}"}
"""


def _refuse_connections(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, store: str) -> list[Any]:
    """Fail every socket connection but the store's own (in this process and in child processes)."""
    attempts: list[Any] = []
    allowed = {5432} if store == "postgresql" else set()
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and address[1] in allowed:
            return real_connect(self, address)
        attempts.append(address)
        raise ConnectionRefusedError(f"replay must not connect to {address}")

    monkeypatch.setattr(socket.socket, "connect", connect)
    site = tmp_path / "no-network"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        textwrap.dedent(f"""
        import socket
        _real = socket.socket.connect
        def _connect(self, address):
            if isinstance(address, tuple) and address[1] in {sorted(allowed)!r}:
                return _real(self, address)
            raise SystemExit("replay child tried to connect to %r" % (address,))
        socket.socket.connect = _connect
        """)
    )
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.delenv("AGNT5_LLM_BASE_URL", raising=False)
    return attempts


@pytest.fixture
def judged_run(agnt5: Agnt5, agent_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A finished run with every built-in scorer, the judges answered by a fake provider, and a custom scorer."""
    (agent_dir / "traced.py").write_text(AGENT)
    ds = out(agnt5("datasets", "create", "--name", "orders"))
    items = [{"input": {"order_id": n, "policy": "orders ship in 2 days"}, "expected_output": {"answer": f"Order {n}"}}
             for n in range(1, 7)]  # fmt: skip
    agnt5("datasets", "upload", ds, input="\n".join(json.dumps(i) for i in items))
    version = out(agnt5("datasets", "publish", ds))
    dep = out(agnt5("deployments", "create", "--name", "traced", "--module", "traced", "--path", str(agent_dir)))
    custom = out(agnt5("scorers", "create", "--name", "cites-order", "--deployment-id", dep, "--component-name",
                       "cites_order"))  # fmt: skip
    assert set(CONFIGS) == set(BUILTINS)
    scorers = [arg for name, config in CONFIGS.items()
               for arg in ("--builtin-scorer", json.dumps({"name": name, "config": config}))]  # fmt: skip
    scorers += ["--builtin-scorer", json.dumps({"name": "llm_judge", "config": {"model": "judge-garbage",
                                                                                "criteria": "c"}})]  # fmt: skip
    exp = out(agnt5("experiments", "create", "--name", "replayed", "--dataset-id", ds, "--dataset-version-id", version,
                    "--target-type", "component", "--deployment-id", dep, "--component-name", "traced_agent",
                    "--component-type", "agent", *scorers, "--scorer-id", custom,
                    "--config", '{"passed_threshold": 0.5}'))  # fmt: skip
    with FakeLLM() as llm:
        monkeypatch.setenv("AGNT5_LLM_BASE_URL", llm.base_url)
        run = data(agnt5("experiments", "run", exp, "--wait", "--timeout", "3m", "--format", "json", code=None))
        assert len(llm.requests) > 0
    assert run["status"] == "completed" and run["errored_items"] == 1
    return {"run": run["id"], "experiment": exp, "custom": custom, "dep": dep}


def test_replay_rederives_every_score_with_no_network(
    agnt5: Agnt5, store: str, judged_run: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    attempts = _refuse_connections(monkeypatch, tmp_path, store)
    report = data(agnt5("experiments", "runs", "replay", judged_run["run"], "--format", "json"))
    assert attempts == []
    scorers = {s["scorer"]: s for s in report["scorers"]}
    assert set(BUILTINS) <= {key.split("#")[0] for key in scorers} and "cites-order" in scorers
    assert report["mismatched"] == report["skipped"] == 0 and report["matched"] == report["scores"]
    assert report["scores"] == 5 * (len(CONFIGS) + 2)  # five items scored (one errored), every scorer each
    assert scorers["llm_judge#2"]["matched"] == 5  # the garbage answers parse-fail again, the same way
    assert report["summary"]["differences"] == [] and report["ok"] is True
    table = agnt5("experiments", "runs", "replay", judged_run["run"])
    assert "everything matches" in table.stderr


def test_replay_follows_a_replacing_rescore(
    agnt5: Agnt5, store: str, judged_run: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rescore = data(agnt5("experiments", "runs", "rescore", judged_run["run"], "--builtin-scorer",
                         '{"name": "contains", "config": {"pattern": "Order 3"}}', "--replace-latest", "--wait",
                         "--format", "json", code=None))  # fmt: skip
    assert rescore["status"] == "completed"
    _refuse_connections(monkeypatch, tmp_path, store)
    report = data(agnt5("experiments", "runs", "replay", judged_run["run"], "--format", "json"))
    assert report["ok"] is True and report["mismatched"] == 0
    assert report["summary"]["derived"]["passed_items"] == report["summary"]["view"]["passed_items"]
    assert report["summary"]["derived"]["scorers"]["contains"]["passed"] == 1  # only "Order 3 is shipped"
    assert report["scores"] == 5 * (len(CONFIGS) + 2) + 5  # the rescore's five scores are replayed too


def test_replay_reports_a_tampered_output_and_exits_2(agnt5: Agnt5, judged_run: dict[str, str],
                                                      isolated_home: Path, store: str) -> None:  # fmt: skip
    if store != "sqlite":
        pytest.skip("the log is edited through SQLite here; the PostgreSQL log is the same code path")
    with sqlite3.connect(isolated_home / "events.db") as conn:
        rowid, state = conn.execute(
            "SELECT rowid, state FROM stored_events WHERE topic LIKE '%RunChunk.ItemsRecorded' ORDER BY rowid LIMIT 1"
        ).fetchone()
        chunk = json.loads(state)
        payload = chunk["items"][0]
        payload["output"] = {"answer": "tampered"}
        conn.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (json.dumps(chunk).encode(), rowid))
    result = agnt5("experiments", "runs", "replay", judged_run["run"], "--format", "json", code=2)
    report = data(result)
    assert report["ok"] is False and report["mismatched"] > 0
    assert {m["run_item_id"] for m in report["mismatches"]} == {payload["run_item_id"]}
    assert any(m["scorer"] == "contains" and m["field"] == "passed" for m in report["mismatches"])


def test_replay_refuses_a_running_run(agnt5: Agnt5, page: dict[str, str]) -> None:
    from uuid import UUID

    from agnt5_evals.adapters.bootstrap import build

    with build() as svc:
        run_id = str(svc.app.start_run(UUID(page["experiment"]), "no-worker").id)
    assert "is running" in agnt5("experiments", "runs", "replay", run_id, code=1).stderr
