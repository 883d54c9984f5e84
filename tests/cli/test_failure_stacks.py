"""A component's failure keeps its stack trace (``reports failures``), a scorer's its own (``scores evidence``);
only a real serialisation failure of the output is reported as one."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from tests.cli.conftest import data, out

MODULE = """
from agnt5_evals import component, scorer


def price_of(order):
    return order["price"] * order["quantity"]  # a TypeError when price is None


@component("total", type="function")
def total(input):
    if input.get("as_set"):
        return {1, 2}
    return {"total": price_of(input)}


@scorer("strict")
def strict(request):
    if request["output"]["total"] > 10:
        raise ValueError("too expensive to judge")
    return True
"""


def test_failures_show_the_stack_and_a_type_error_is_not_a_serialisation_error(agnt5, tmp_path: Path):
    root = tmp_path / "shop"
    root.mkdir()
    (root / "shop.py").write_text(textwrap.dedent(MODULE))
    deployment = out(agnt5("deployments", "create", "--name", "shop", "--module", "shop", "--path", str(root)))
    strict = out(agnt5("scorers", "create", "--name", "strict", "--deployment-id", deployment,
                       "--component-name", "strict"))  # fmt: skip
    ds = out(agnt5("datasets", "create", "--name", "orders"))
    rows = [{"price": 2, "quantity": 3}, {"price": None, "quantity": 3}, {"as_set": True}, {"price": 5, "quantity": 3}]
    agnt5("datasets", "upload", ds, input="\n".join(json.dumps({"input": r, "expected_output": None}) for r in rows))
    version = out(agnt5("datasets", "publish", ds, "--description", "orders"))
    exp = out(agnt5("experiments", "create", "--name", "totals", "--dataset-id", ds, "--dataset-version-id", version,
                    "--deployment-id", deployment, "--component-name", "total", "--component-type", "function",
                    "--scorer-id", strict, "--config", '{"passed_threshold": 0, "retries": 0}'))  # fmt: skip
    summary = data(agnt5("experiments", "run", exp, "--wait", "--format", "json"))
    assert (summary["passed_items"], summary["failed_items"], summary["errored_items"]) == (1, 1, 2)

    failures = {f["position"]: f for f in data(agnt5("reports", "failures", summary["id"], "--format", "json"))}
    raised, unserialisable = failures[1], failures[2]
    assert raised["error"] == "TypeError: unsupported operand type(s) for *: 'NoneType' and 'int'"
    assert "Traceback (most recent call last)" in raised["stack"]
    assert 'return order["price"] * order["quantity"]' in raised["stack"] and "in price_of" in raised["stack"]
    assert unserialisable["error"].startswith("TypeError: the output is not JSON-serializable")
    assert unserialisable["stack"] is None
    assert failures[3]["stack"] is None  # scored and failed: no component failure

    table = agnt5("reports", "failures", summary["id"]).stdout
    assert "stack trace:" in table and "in price_of" in table

    scores = data(agnt5("scores", "list", "--run-id", summary["id"], "--format", "json"))
    errored = next(s for s in scores if s["errored"])
    evidence = data(agnt5("scores", "evidence", errored["id"]))
    assert evidence["scorer_output"]["explanation"] == "ValueError: too expensive to judge"
    assert "in strict" in evidence["evidence"]["stack"] and "raise ValueError" in evidence["evidence"]["stack"]
