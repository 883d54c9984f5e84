"""Drive the real ``agnt5`` app in-process (runs still execute in real worker processes)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agnt5_evals.adapters.bootstrap import build
from agnt5_evals.cli.main import app

Agnt5 = Callable[..., Any]


@pytest.fixture
def agnt5(store: str) -> Agnt5:
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, code: int | None = 0) -> Any:
        result = runner.invoke(app, list(args), input=input, prog_name="agnt5")
        if code is not None:
            assert result.exit_code == code, f"exit {result.exit_code}: {result.stdout}\n{result.stderr}"
        return result

    return invoke


def out(result: Any) -> str:
    return str(result.stdout).strip()


def data(result: Any) -> Any:
    return json.loads(result.stdout)


def log_head() -> int:
    with build() as svc:
        return svc.app.recorder.max_notification_id() or 0


@pytest.fixture
def page(agnt5: Agnt5, agent_dir: Path) -> dict[str, str]:
    """The product page's setup: a dataset version, a good and a regressed deployment, an experiment."""
    ds = out(agnt5("datasets", "create", "--name", "support-cases"))
    lines = "\n".join(json.dumps({"input": {"order_id": n}, "expected_output": None}) for n in range(1, 7))
    agnt5("datasets", "upload", ds, input=lines)
    version = out(agnt5("datasets", "publish", ds, "--description", "six orders"))
    good = out(agnt5("deployments", "create", "--name", "good", "--module", "good_agent", "--path", str(agent_dir)))
    bad = out(agnt5("deployments", "create", "--name", "bad", "--module", "regressed_agent", "--path", str(agent_dir)))
    experiment = out(
        agnt5(
            "experiments", "create", "--name", "support-agent-quality", "--dataset-id", ds,
            "--dataset-version-id", version, "--target-type", "component", "--deployment-id", good,
            "--component-name", "support_agent", "--component-type", "agent", "--builtin-scorer", "json_valid",
            "--builtin-scorer", '{"name":"tool_called","config":{"tool":"search_orders"}}',
            "--config", '{"passed_threshold":1}',
        )
    )  # fmt: skip
    return {"dataset": ds, "version": version, "good": good, "bad": bad, "experiment": experiment}
