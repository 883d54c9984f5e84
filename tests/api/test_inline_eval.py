"""Inline evals (``POST /v1/eval``, reference §5.8) with the public AGNT5 SDK's ``Client.eval`` and ``batch_eval``,
unchanged, against a running server on each store: output, scores, passed and run_id; each eval a run anyone can
inspect afterwards (REST and ``agnt5 experiments runs show``); refusals in the EvalResponse shape."""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from agnt5_evals.cli.main import app as cli
from agnt5_evals.services.keys import create_key
from tests.api.live import live_server
from tests.fakes.llm_server import FakeLLM

agnt5 = pytest.importorskip("agnt5")
from agnt5.eval.llm_judge import LLMJudge  # noqa: E402

ORDER = {"order_id": 7}


@pytest.fixture(autouse=True)
def _no_threads_left_behind() -> Iterator[None]:
    """The SDK's ``batch_eval`` runs its evals on the main thread's event loop (``get_event_loop`` then
    ``run_until_complete``) and leaves that loop's executor threads alive; shut them down, so later tests in this
    process may fork (a standby worker forks only when no other thread runs)."""
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            loop = asyncio.get_event_loop()
        except RuntimeError:  # no loop: nothing left behind
            return
    if not loop.is_closed() and not loop.is_running():
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
        asyncio.set_event_loop(asyncio.new_event_loop())  # threads start only when a call needs them


@pytest.fixture
def base_url(world, monkeypatch) -> Iterator[str]:
    with FakeLLM() as fake:
        monkeypatch.setenv("AGNT5_LLM_BASE_URL", fake.base_url)
        monkeypatch.setenv("AGNT5_LLM_API_KEY", "sk-test")
        with live_server() as url:
            yield url


@pytest.fixture
def key(services) -> str:
    return str(create_key(services, "default", "write", "inline evals")["key"])


@pytest.fixture
def http(base_url, key) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as session:
        yield session


@pytest.fixture
def client(base_url, world, key) -> Any:
    return agnt5.Client(gateway_url=base_url, api_key=key, deployment_id=str(world["good"]))


def test_an_eval_answers_output_scores_and_a_run_to_inspect(http, client, world):
    result = client.eval("echo", input_data=ORDER, expected=ORDER)
    assert result.is_success and result.passed is True and result.output == ORDER
    assert [(s.scorer, s.score, s.passed) for s in result.scores] == [("exact_match", 1.0, True)]
    assert result.run_id and result.trace_id and result.duration_ms is not None
    run = http.get(f"/api/v1/runs/{result.run_id}").json()
    assert (run["status"], run["passed"], run["total_items"]) == ("completed", True, 1)
    items = http.get(f"/api/v1/runs/{result.run_id}/items").json()
    assert items[0]["output"] == ORDER and items[0]["id"] == result.trace_id
    shown = CliRunner().invoke(cli, ["experiments", "runs", "show", result.run_id, "--format", "json"])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["passed"] is True


def test_a_wrong_output_does_not_pass_and_evals_of_one_scorer_set_share_an_experiment(http, client, world):
    wrong = client.eval("echo", input_data=ORDER, expected={"order_id": 8})
    right = client.eval("echo", input_data=ORDER, expected=ORDER)
    assert wrong.passed is False and wrong.error is None and wrong.scores[0].passed is False
    first = http.get(f"/api/v1/runs/{wrong.run_id}").json()
    second = http.get(f"/api/v1/runs/{right.run_id}").json()
    assert first["experiment_id"] == second["experiment_id"] and first["dataset_version_id"] != second[
        "dataset_version_id"]  # fmt: skip
    runs = http.get(f"/api/v1/experiments/{first['experiment_id']}/runs").json()
    assert {r["id"] for r in runs} == {wrong.run_id, right.run_id}


def test_a_failing_component_answers_its_error_and_does_not_pass(client):
    result = client.eval("support_agent", input_data={"explode": True}, scorers=["no_errors"], component_type="agent")
    assert result.passed is False and result.error is not None and result.error.code == "EXECUTION_FAILED"
    assert "boom" in result.error.message and result.run_id


def test_an_llm_judge_spec_from_the_sdk_scores_with_the_configured_model(client):
    judge = LLMJudge(criteria="Does the answer give the order's status?", model="openai/judge-good")
    result = client.eval("support_agent", input_data=ORDER, scorers=[judge, "json_valid"], component_type="agent")
    assert result.passed is True and result.output == {"answer": "Order 7 is shipped"}
    assert {s.scorer: s.passed for s in result.scores} == {"llm_judge": True, "json_valid": True}
    assert result.get_score("llm_judge").score == pytest.approx(0.9)


def test_batch_eval_of_the_sdk_and_our_batch_route(http, client, world):
    items = [{"input": ORDER, "expected": ORDER}, {"input": {"order_id": 2}, "expected": {"order_id": 3}}]
    batch = client.batch_eval("echo", items, max_concurrency=2)
    assert batch.stats.total_items == 2 and batch.stats.passed_items == 1 and batch.pass_rate == 0.5
    assert batch.status == "completed" and all(item.run_id and item.error is None for item in batch.results)
    many = [{"input": {"n": n}, "expected": {"n": n}} for n in range(6)]  # four at once, one scorer set
    together = client.batch_eval("echo", many, max_concurrency=4)
    assert together.pass_rate == 1.0 and [r.output for r in together.results] == [m["input"] for m in many]
    assert len({r.run_id for r in together.results}) == 6
    pairs = [{"input": ORDER, "expected": ORDER, "item_id": "a"}, {"input": {"n": 1}, "expected": 2}]
    body = {"component": "echo", "scorers": ["exact_match"], "items": pairs}
    answer = http.post("/v1/eval/batch", json=body, headers={"X-DEPLOYMENT-ID": str(world["good"])})
    assert answer.status_code == 200, answer.text
    got = answer.json()
    assert (got["total_items"], got["passed_items"], got["failed_items"], got["pass_rate"]) == (2, 1, 0, 0.5)
    assert [(r["index"], r["item_id"], r["passed"]) for r in got["results"]] == [(0, "a", True), (1, None, False)]


def test_refusals_answer_in_the_eval_shape(base_url, http, client, world, key):
    unknown = client.eval("no_such_component", input_data=ORDER)
    assert (
        unknown.passed is False and unknown.error.code == "NOT_FOUND" and "no_such_component" in unknown.error.message
    )
    gone = client.eval("echo", input_data=ORDER, deployment_id="00000000-0000-4000-8000-000000000000")
    assert gone.error.code == "NOT_FOUND" and "not found" in gone.error.message
    bare = agnt5.Client(gateway_url=base_url, api_key=key).eval("echo", input_data=ORDER)
    assert bare.passed is False and bare.error.code == "INVALID" and "X-DEPLOYMENT-ID" in bare.error.message
    bad = client.eval("echo", input_data=ORDER, scorers=["contains"])
    assert bad.passed is False and bad.error.code == "INVALID" and "config.pattern is required" in bad.error.message
    assert bad.error.details == {"field": "scorers[0].config"}
    unknown_field = {"component": "echo", "input": ORDER, "surprise": 1}
    raw = http.post("/v1/eval", json=unknown_field, headers={"X-DEPLOYMENT-ID": str(world["good"])})
    assert raw.status_code == 422 and raw.json()["passed"] is False and raw.json()["field"] == "surprise"
    assert raw.json()["message"] and raw.json()["code"] == "invalid"


def test_keys_are_checked_and_refusals_keep_the_eval_shape(base_url, services, world):
    def as_key(token: str) -> Any:
        return agnt5.Client(gateway_url=base_url, api_key=token, deployment_id=str(world["good"]))

    reader = as_key(str(create_key(services, "default", "read")["key"])).eval("echo", input_data=ORDER)
    assert reader.passed is False and reader.error.code == "FORBIDDEN" and "scope write" in reader.error.message
    forged = as_key("agnt5_sk_not_a_key").eval("echo", input_data=ORDER)
    assert forged.passed is False and forged.error.code == "UNAUTHORIZED"
    anonymous = httpx.post(
        f"{base_url}/v1/eval", json={"component": "echo"}, headers={"X-DEPLOYMENT-ID": str(world["good"])}
    )
    assert anonymous.status_code == 401 and anonymous.json()["passed"] is False
    assert anonymous.json()["error"]["code"] == "UNAUTHORIZED" and anonymous.json()["code"] == "unauthorized"


def test_a_guard_refusing_the_request_still_answers_an_eval_that_did_not_pass(services, world, key):
    with live_server(max_body_bytes=2_000) as url:
        sdk = agnt5.Client(gateway_url=url, api_key=key, deployment_id=str(world["good"]))
        result = sdk.eval("echo", input_data={"text": "x" * 5_000})
    assert result.passed is False and result.error.code == "TOO_LARGE" and "2,000 bytes" in result.error.message
