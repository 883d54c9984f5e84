"""Components written with the public AGNT5 SDK (``agnt5==0.14.5``, the dev extra) run unchanged, end to end on
each store: ``@function``, ``@agent``, ``@tool`` and ``@scorer`` from ``agnt5``, discovered, run in experiments and
scored with the expected verdicts; their SDK trace events are recorded and read by our trace scorers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agnt5_evals.adapters.bootstrap import build
from agnt5_evals.projections import queries
from tests.cli.conftest import data, out

pytest.importorskip("agnt5")

APP = Path(__file__).resolve().parents[1] / "fixtures" / "agnt5_app"


@pytest.fixture
def sdk_app(tmp_path: Path) -> Path:
    root = tmp_path / "sdk_app"
    shutil.copytree(APP, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def dataset(agnt5, name: str, rows: list[dict]) -> tuple[str, str]:
    ds = out(agnt5("datasets", "create", "--name", name))
    agnt5("datasets", "upload", ds, input="\n".join(json.dumps(r) for r in rows))
    return ds, out(agnt5("datasets", "publish", ds, "--description", name))


def run(agnt5, ds: tuple[str, str], deployment: str, component: str, kind: str, *scorers: str) -> dict:
    exp = out(agnt5("experiments", "create", "--name", f"sdk-{component}", "--dataset-id", ds[0],
                    "--dataset-version-id", ds[1], "--deployment-id", deployment, "--component-name", component,
                    "--component-type", kind, *scorers, "--config",
                    '{"passed_threshold": 0, "retries": 0}'))  # fmt: skip
    return data(agnt5("experiments", "run", exp, "--wait", "--format", "json"))


def items(run_id: str) -> list[dict]:
    """The run's items in dataset order, with output, events and scores (read model)."""
    with build() as svc:
        svc.catch_up()
        return queries.run_items(svc.view, run_id)


def scorer_id(agnt5, deployment: str, component: str) -> str:
    return out(agnt5("scorers", "create", "--name", component.replace("_", "-"), "--deployment-id", deployment,
                     "--component-name", component))  # fmt: skip


def test_sdk_components_register_and_run_with_expected_verdicts(agnt5, sdk_app):
    shown = data(agnt5("deployments", "create", "--name", "weather", "--module", "weather_app",
                       "--path", str(sdk_app), "--format", "json"))  # fmt: skip
    deployment = shown["id"]
    kinds = {c["name"]: c["type"] for c in shown["components"]}
    assert kinds == {"greet": "function", "add_nums": "function", "divide": "function", "lookup": "tool",
                     "weather_agent": "agent", "plain_agent": "agent", "says_hello": "scorer",
                     "used_lookup": "scorer"}  # fmt: skip
    says_hello, used_lookup = scorer_id(agnt5, deployment, "says_hello"), scorer_id(agnt5, deployment, "used_lookup")

    names = dataset(
        agnt5,
        "names",
        [
            {"input": {"name": "Ada"}, "expected_output": {"message": "Hello, Ada!"}},
            {"input": {"name": "Bob"}, "expected_output": {"message": "Hello, Rob!"}},
        ],
    )
    greeted = run(agnt5, names, deployment, "greet", "function", "--builtin-scorer", "exact_match",
                  "--scorer-id", says_hello)  # fmt: skip
    verdicts = {(name, s["scorer_key"]): s["passed"] for name, i in zip(["Ada", "Bob"], items(greeted["id"]),
                strict=True) for s in i["scores"]}  # fmt: skip
    assert verdicts == {("Ada", "exact_match"): True, ("Ada", "says-hello"): True,
                        ("Bob", "exact_match"): False, ("Bob", "says-hello"): True}  # fmt: skip

    cities = dataset(
        agnt5,
        "cities",
        [
            {"input": {"message": "Weather in Paris?"}, "expected_output": None},
            {"input": {"message": "Weather in Atlantis?"}, "expected_output": None},
        ],
    )
    asked = run(agnt5, cities, deployment, "weather_agent", "agent", "--builtin-scorer",
                '{"name": "tool_called", "config": {"tool": "lookup"}}', "--builtin-scorer", "no_errors",
                "--builtin-scorer", '{"name": "contains", "config": {"pattern": "sunny in Paris"}}',
                "--scorer-id", used_lookup)  # fmt: skip
    paris, atlantis = items(asked["id"])
    assert paris["output"]["output"] == "It is sunny in Paris."
    assert [c["name"] for c in paris["output"]["tool_calls"]] == ["lookup"]
    assert {s["scorer_key"]: s["passed"] for s in paris["scores"]} == {
        "tool_called": True,
        "no_errors": True,
        "contains": True,
        "used-lookup": True,
    }
    # the tool raised: the SDK's agent loop records tool_call.failed and goes on; our scorers read that event
    assert {s["scorer_key"]: s["passed"] for s in atlantis["scores"]} == {
        "tool_called": True,
        "no_errors": False,
        "contains": False,
        "used-lookup": True,
    }
    kinds_seen = [e["event_type"] for e in paris["events"]]
    assert "tool_call.started" in kinds_seen and "tool_call.completed" in kinds_seen
    assert "tool_call.failed" in [e["event_type"] for e in atlantis["events"]]
    used = next(s for s in paris["scores"] if s["scorer_key"] == "used-lookup")
    assert (used["label"], used["metadata"]["input_is"]) == ("lookup", "dict") and used["metadata"]["steps"] >= 1

    numbers = dataset(agnt5, "numbers", [{"input": {"a": 1, "b": 2}, "expected_output": 3}])
    added = run(agnt5, numbers, deployment, "add_nums", "function", "--builtin-scorer", "exact_match")
    assert (added["passed_items"], added["errored_items"]) == (1, 0)
    looked = run(agnt5, dataset(agnt5, "tool", [{"input": {"city": "Rome"}, "expected_output": "sunny in Rome"}]),
                 deployment, "lookup", "tool", "--builtin-scorer", "exact_match",
                 "--builtin-scorer", '{"name": "tool_called", "config": {"tool": "lookup"}}')  # fmt: skip
    assert looked["passed_items"] == 1
