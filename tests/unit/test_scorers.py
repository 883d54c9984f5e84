"""The five built-in scorers of the skeleton, with the reference's semantics and conformance cases."""

from __future__ import annotations

import pytest

from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.scoring import ScorerInput, parse_scorer_spec, run_scorer, with_keys
from agnt5_evals.domain.scoring.base import to_text


def score(name: str, output: object, expected: object = None, config: dict | None = None, events=None):
    spec = {"type": "builtin", "name": name, "config": config or {}}
    return run_scorer(spec, ScorerInput(output=output, expected_output=expected, config=config or {},
                                        events=events or []))  # fmt: skip


@pytest.mark.parametrize(
    ("name", "output", "expected", "config", "want_score", "want_passed"),
    [
        ("exact_match", "hello", "hello", {}, 1.0, True),
        ("exact_match", "hello", "world", {}, 0.0, False),
        ("contains", "hello world", None, {"pattern": "world"}, 1.0, True),
        ("contains", "hello", None, {"pattern": "world"}, 0.0, False),
        ("json_valid", '{"k":"v"}', None, {}, 1.0, True),
        ("json_valid", "{not json", None, {}, 0.0, False),
        ("regex_match", "abc123", None, {"pattern": r"\d+"}, 1.0, True),
        ("regex_match", "abcdef", None, {"pattern": r"^\d+$"}, 0.0, False),
    ],
)
def test_appendix_a_conformance(name, output, expected, config, want_score, want_passed):
    result = score(name, output, expected, config)
    assert (result.score, result.passed) == (want_score, want_passed)


def test_to_text_sorts_keys_and_keeps_number_spelling():
    assert to_text({"b": 1, "a": 2}) == '{"a":2,"b":1}'
    assert to_text(None) == ""
    assert to_text(1) == "1" and to_text(1.0) == "1.0"
    assert to_text("é") == "é"


def test_exact_match_compares_objects_by_sorted_keys_and_labels():
    assert score("exact_match", {"b": 1, "a": 2}, {"a": 2, "b": 1}).label == "match"
    assert score("exact_match", 1, 1.0).label == "mismatch"
    assert score("exact_match", "", None).passed  # missing expected compares against ""


def test_exact_match_case_insensitive():
    assert score("exact_match", "Hello", "hELLO", {"case_sensitive": False}).passed
    assert not score("exact_match", "Hello", "hELLO").passed


def test_contains_searches_json_text_and_labels():
    found = score("contains", {"answer": "shipped"}, config={"pattern": '"answer"'})
    assert (found.passed, found.label) == (True, "found")
    assert score("contains", "abc", config={"pattern": "z"}).label == "not_found"
    assert score("contains", "ABC", config={"pattern": "b", "case_sensitive": False}).passed


@pytest.mark.parametrize("config", [{}, {"pattern": 42}, {"pattern": ""}])
def test_contains_bad_config_at_run_time_is_config_error(config):
    result = score("contains", "abc", config=config)
    assert (result.score, result.passed, result.label, result.errored) == (0.0, False, "config_error", False)


def test_regex_bad_pattern_is_labelled_error():
    result = score("regex_match", "x", config={"pattern": "["})
    assert (result.passed, result.label) == (False, "error")
    assert result.explanation.startswith("Invalid regex")


def test_regex_labels():
    assert score("regex_match", "a1", config={"pattern": r"\d"}).label == "match"
    assert score("regex_match", "ab", config={"pattern": r"\d"}).label == "no_match"


@pytest.mark.parametrize("output", [{"a": 1}, [1], 3, True, None])
def test_json_valid_accepts_every_non_string_value(output):
    assert score("json_valid", output).label == "valid"


def tool_events(*names: str) -> list[dict]:
    events = []
    for n, name in enumerate(names):
        for phase in ("started", "completed"):
            events.append({"event_type": f"tool.call.{phase}", "event_id": f"e{n}{phase}", "correlation_id": f"c{n}",
                           "timestamp_ns": 1_000_000 * (n + 1), "data": {"tool_name": name, "tool_call_id": f"c{n}"},
                           "name": name})  # fmt: skip
    return events


def test_tool_called_reads_tool_steps_of_the_trace():
    result = score("tool_called", "x", config={"tool": "search_orders"}, events=tool_events("lookup", "search_orders"))
    assert (result.score, result.passed, result.label) == (1.0, True, "called")
    assert result.metadata["actual_tools"] == ["lookup", "search_orders"]
    assert result.metadata["expected_tool"] == "search_orders"
    assert result.evidence["trace_eval_context"]["features"]["tool_call_count"] == 2


def test_tool_called_fails_when_absent():
    result = score("tool_called", "x", config={"tool": "search_orders"}, events=tool_events("lookup"))
    assert (result.score, result.passed, result.label) == (0.0, False, "not_called")


@pytest.mark.parametrize("config", [{}, {"tool": ""}, {"tool": "x", "score_threshold": 1.5}])
def test_tool_called_bad_config_is_config_error(config):
    assert score("tool_called", "x", config=config).label == "config_error"


def test_tool_called_rejects_a_given_context_with_the_wrong_schema():
    inp = ScorerInput(output="x", config={"tool": "t"}, metadata={"trace_eval_context": {"schema_version": "v0"}})
    result = run_scorer({"name": "tool_called", "config": {"tool": "t"}}, inp)
    assert result.label == "artifact_error"


def test_scorer_that_raises_is_errored_not_failed(monkeypatch):
    import dataclasses

    from agnt5_evals.domain.scoring.base import BUILTINS

    def boom(inp):
        raise ValueError("bad")

    monkeypatch.setitem(BUILTINS, "json_valid", dataclasses.replace(BUILTINS["json_valid"], fn=boom))
    result = score("json_valid", "x")
    assert result.errored and not result.passed and "ValueError" in result.explanation


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("no_such_scorer", "unknown scorer 'no_such_scorer'"),
        ('{"name": "contains", ', "malformed JSON"),
        ("contains", "contains needs config"),
        ("regex_match", "regex_match needs config"),
        ("tool_called", "tool_called needs config"),
        ('{"name":"contains","config":{"pattern":""}}', "config.pattern must be a non-empty string"),
        ('{"name":"regex_match","config":{"pattern":"["}}', "not a valid regex"),
        ('{"name":"tool_called","config":{}}', "config.tool is required"),
        ('{"name":"json_valid","config":[1]}', "config must be a JSON object"),
    ],
)
def test_bad_scorer_specs_are_rejected_with_the_field(raw, message):
    with pytest.raises(Invalid) as info:
        parse_scorer_spec(raw)
    assert message in info.value.message and info.value.field is not None and info.value.field.startswith("scorers")


def test_spec_forms():
    assert parse_scorer_spec("json_valid") == {"type": "builtin", "name": "json_valid", "config": {}}
    spec = parse_scorer_spec('{"name":"tool_called","config":{"tool":"search_orders"}}')
    assert spec["config"] == {"tool": "search_orders"}


def test_duplicate_scorer_names_get_distinct_keys():
    keys = [s["key"] for s in with_keys([{"name": "contains"}, {"name": "json_valid"}, {"name": "contains"}])]
    assert keys == ["contains#1", "json_valid", "contains#2"]
