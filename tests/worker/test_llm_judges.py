"""Judges over real HTTP against a deterministic OpenAI-compatible server on loopback."""

from __future__ import annotations

import pytest

from agnt5_evals.adapters import llm
from agnt5_evals.adapters.llm import ChatClient
from agnt5_evals.domain.scoring import ScorerInput, run_scorer
from tests.fakes.llm_server import FakeLLM


@pytest.fixture
def fake():
    with FakeLLM() as server:
        yield server


def score(client, model, output="Order 7 is shipped", **config):
    spec_config = {"criteria": "Does it give the order status?", "model": model, **config}
    return run_scorer({"name": "llm_judge", "config": spec_config},
                      ScorerInput(output=output, config=spec_config, llm=client))  # fmt: skip


def test_judge_passes_and_fails_on_the_output(fake):
    client = ChatClient(fake.base_url, api_key="sk-test")
    good, bad = score(client, "judge-good"), score(client, "judge-good", output="Sorry!")
    assert (good.score, good.passed, bad.score, bad.passed) == (0.9, True, 0.2, False)
    assert fake.requests[0]["path"] == "/v1/chat/completions" and fake.requests[0]["auth"] == "Bearer sk-test"
    assert good.evidence["judge_response"]["model"] == "judge-good"


def test_fenced_answer_and_labels(fake):
    client = ChatClient(fake.base_url)
    assert score(client, "judge-fenced").score == 0.9
    labelled = score(client, "judge-labels", choice_scores={"pass": 1.0, "fail": 0.0})
    assert (labelled.score, labelled.label) == (1.0, "pass")


def test_garbage_answer_is_errored_with_the_reason(fake):
    result = score(ChatClient(fake.base_url), "judge-garbage")
    assert (result.errored, result.label, result.passed, result.score) == (True, "parse_error", False, 0.0)
    assert "I think it is quite good" in result.explanation


def test_a_judge_that_times_out_is_errored(fake):
    result = score(ChatClient(fake.base_url, timeout_s=0.5), "judge-slow")
    assert (result.errored, result.label) == (True, "timeout_error")
    assert result.explanation.startswith("LLM call failed: timed out")


@pytest.mark.parametrize(("model", "label"), [("judge-denied", "auth_error"), ("judge-broken", "provider_error")])
def test_http_errors_are_errored_with_their_kind(fake, model, label):
    result = score(ChatClient(fake.base_url), model)
    assert (result.errored, result.label) == (True, label)


def test_unreachable_endpoint_is_errored():
    result = score(ChatClient("http://127.0.0.1:9/v1", timeout_s=2), "judge-good")
    assert result.errored and result.label in ("provider_error", "timeout_error")


def test_replay_from_evidence_needs_no_network(fake):
    recorded = score(ChatClient(fake.base_url), "judge-good")
    fake.__exit__()  # the server is gone
    replayed = score(llm.replay(recorded.evidence), "judge-good")
    assert (replayed.score, replayed.passed, replayed.explanation) == (recorded.score, recorded.passed,
                                                                       recorded.explanation)  # fmt: skip


def test_client_from_env(monkeypatch):
    monkeypatch.delenv("AGNT5_LLM_BASE_URL", raising=False)
    assert llm.from_env() is None
    monkeypatch.setenv("AGNT5_LLM_BASE_URL", "http://127.0.0.1:1/v1/")
    monkeypatch.setenv("AGNT5_LLM_TIMEOUT_S", "7")
    client = llm.from_env()
    assert client is not None and client.base_url == "http://127.0.0.1:1/v1" and client.http.timeout.read == 7
