"""Judge prompt assembly and answer parsing (pure; the LLM is a plain function here)."""

from __future__ import annotations

import json

import pytest

from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.scoring import ScorerInput, parse_scorer_spec, run_scorer
from agnt5_evals.domain.scoring.base import ScoreResult
from agnt5_evals.domain.scoring.judges import JudgeCallError, apply_choices, parse_verdict, user_prompt


def llm_answering(content: str, seen: list | None = None):
    def call(request):
        if seen is not None:
            seen.append(request)
        return {"choices": [{"message": {"content": content}}]}

    return call


def judge(name, config, output="Order 7 is shipped", llm=None, **kw):
    return run_scorer({"name": name, "config": config}, ScorerInput(output=output, config=config, llm=llm, **kw))


def test_prompt_sections_in_order():
    inp = ScorerInput(output={"a": 1}, expected_output="ref", input="q", config={"include_input": True})
    text = user_prompt("Be right.", inp, inp.config, context={"doc": "d"})
    heads = [line for line in text.splitlines() if line.startswith("## ")]
    assert heads == ["## Evaluation Criteria", "## Input", "## Context", "## Output to Evaluate",
                     "## Expected Output (Reference)"]  # fmt: skip
    assert '{\n  "a": 1\n}' in text and text.endswith("Respond with a single JSON object.")


def test_template_placeholders_and_appended_output():
    config = {"prompt_template": "Question: {{ input.q }} first={{input.items.0}}"}
    inp = ScorerInput(output="out", input={"q": "why?", "items": ["x"]}, config=config)
    text = user_prompt("", inp, config)
    assert text.startswith("Question: why? first=x") and "## Output to Evaluate\nout" in text


def test_unknown_template_variable_is_config_error():
    result = judge("llm_judge", {"prompt_template": "{{ input.nope }}"}, llm=llm_answering("{}"))
    assert result.label == "config_error" and "prompt_template variable not found: input.nope" in result.explanation


@pytest.mark.parametrize(
    ("text", "score"),
    [('{"score": 0.8}', 0.8), ('```json\n{"score": 0.5}\n```', 0.5), ('Sure: {"score": 2} done', 2)],
)
def test_parse_verdict(text, score):
    assert parse_verdict(text)["score"] == score


def test_verdict_fields_clamp_and_default_pass_at_07():
    result = judge("llm_judge", {"criteria": "c"}, llm=llm_answering('{"score": 1.7, "explanation": "e", "x": 1}'))
    assert (result.score, result.passed, result.explanation, result.metadata["x"]) == (1.0, True, "e", 1)
    assert not judge("llm_judge", {"criteria": "c"}, llm=llm_answering('{"score": 0.69}')).passed
    assert judge("llm_judge", {"criteria": "c"}, llm=llm_answering('{"score": 0.1, "passed": true}')).passed


def test_garbage_answer_is_errored_with_the_reason():
    result = judge("llm_judge", {"criteria": "c"}, llm=llm_answering("no json here"))
    assert (result.errored, result.label, result.passed) == (True, "parse_error", False)
    assert result.explanation == "Could not parse LLM response: no json here"
    assert result.evidence["judge_response"]["choices"][0]["message"]["content"] == "no json here"


def test_call_failure_is_errored_with_its_kind():
    def timeout(request):
        raise JudgeCallError("timeout_error", "timed out")

    result = judge("llm_judge", {"criteria": "c"}, llm=timeout)
    assert (result.errored, result.label) == (True, "timeout_error")
    assert result.explanation == "LLM call failed: timed out"


def test_no_endpoint_is_errored_not_a_crash():
    result = judge("correctness", {})
    assert result.errored and result.label == "provider_error"


def test_choice_scores_map_infer_and_reject():
    choices = {"fail": 0.0, "partial": 0.5, "pass": 1.0}
    mapped = apply_choices(ScoreResult(0.0, False, "partial"), choices)
    assert (mapped.score, mapped.passed, mapped.metadata["selected_label"]) == (0.5, False, "partial")
    inferred = apply_choices(ScoreResult(1.0, True, None), choices)
    assert inferred.label == "pass"
    invalid = apply_choices(ScoreResult(0.3, False, "meh"), choices)
    assert (invalid.label, invalid.metadata["allowed_labels"]) == ("invalid_label", ["fail", "partial", "pass"])


def test_choice_list_is_in_the_prompt_and_the_request_is_recorded():
    seen: list = []
    config = {"criteria": "c", "choice_scores": {"pass": 1, "fail": 0}, "model": "openai/gpt-4o-mini"}
    result = judge("llm_judge", config, llm=llm_answering('{"label": "pass"}', seen))
    assert result.score == 1.0 and result.passed
    assert "Choose exactly one label from: fail, pass." in seen[0]["messages"][1]["content"]
    assert seen[0]["model"] == "gpt-4o-mini" and seen[0]["temperature"] == 0.0
    assert result.evidence["judge_request"] == seen[0]


def test_presets_send_their_evidence():
    seen: list = []
    correctness = judge("correctness", {}, llm=llm_answering('{"score": 1}', seen), input="where?")
    assert correctness.metadata["judge_preset"] == "correctness" and "## Input" in seen[-1]["messages"][1]["content"]
    faith = judge("faithfulness", {"context_fields": ["input.doc"]}, input={"doc": "it shipped"},
                  llm=llm_answering('{"score": 1}', seen))  # fmt: skip
    assert faith.metadata["context_fields"] == ["input.doc"]
    assert '"input.doc": "it shipped"' in seen[-1]["messages"][1]["content"]
    events = [{"event_type": "tool.call.completed", "data": {"tool_name": "t", "tool_call_id": "1"}}]
    goal = judge("goal_success", {}, llm=llm_answering('{"score": 1}', seen), events=events)
    assert goal.metadata["evidence_sources"] == ["trace", "trace_eval_context"]
    agent = judge(
        "agent_judge",
        {"model": "m", "max_evidence_chars": 1000},
        llm=llm_answering('{"score": 1}', seen),
        events=[{**events[0], "data": {"tool_name": "t", "tool_call_id": str(i)}} for i in range(80)],
    )
    assert agent.metadata["judge_mode"] == "evidence_inspection"
    assert (
        json.loads(seen[-1]["messages"][1]["content"].split("## Context\n", 1)[1].split("\n\n## ")[0])[
            "agent_judge_evidence"
        ]["truncated"]
        is True
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("llm_judge", "llm_judge needs config"),
        ('{"name":"llm_judge","config":{"model":"m"}}', "llm_judge requires criteria or prompt_template"),
        ("faithfulness", "faithfulness needs config"),
        ('{"name":"faithfulness","config":{"context_fields":["doc"]}}', "needs a root"),
        ('{"name":"llm_judge","config":{"criteria":"c","choice_scores":{"a":2}}}', "choice_scores"),
    ],
)
def test_judge_config_is_checked_at_create(raw, message):
    with pytest.raises(Invalid) as info:
        parse_scorer_spec(raw)
    assert message in info.value.message and info.value.field == "scorers.config"


def test_bare_correctness_and_goal_success_are_accepted():
    assert parse_scorer_spec("correctness")["name"] == "correctness"
    assert parse_scorer_spec("goal_success")["name"] == "goal_success"
