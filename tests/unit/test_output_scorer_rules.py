"""Output scorers: the verdict, label, explanation and evidence each one records (what `scores evidence` shows),
and the messages that reject a bad scorer config when an experiment is created."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.scoring import ScorerInput, parse_scorer_spec, run_scorer
from agnt5_evals.domain.scoring.specs import validate_scorer_spec


def score(name: str, output: Any, expected: Any = None, **config: Any) -> tuple[Any, ...]:
    r = run_scorer(
        {"name": name, "config": config}, ScorerInput(output=output, expected_output=expected, config=config)
    )
    return r.score, r.passed, r.label, r.explanation, r.evidence


def explanation(name: str, output: Any, **config: Any) -> str:
    return score(name, output, **config)[3]


def rejected(name: str, config: dict[str, Any]) -> str:
    with pytest.raises(Invalid) as caught:
        # the spec as a REST body gives it (JSON text with NaN is refused earlier, by the strict reader)
        validate_scorer_spec({"type": "builtin", "name": name, "config": config, "bare": False}, "scorers")
    assert caught.value.field == "scorers.config"
    return caught.value.message


# exact_match --------------------------------------------------------------------------------------------------


def test_exact_match_records_both_texts_it_compared():
    text = '{"a":2,"b":1}'
    assert score("exact_match", {"b": 1, "a": 2}, {"a": 2, "b": 1}) == (
        1.0, True, "match", "output equals expected output", {"output_text": text, "expected_text": text}
    )  # fmt: skip
    assert score("exact_match", "Hello", "hello") == (
        0.0, False, "mismatch", "output differs from expected output",
        {"output_text": "Hello", "expected_text": "hello"},
    )  # fmt: skip


def test_exact_match_ignoring_case_compares_and_records_lower_case_texts():
    assert score("exact_match", "Hello", "hELLO", case_sensitive=False)[1:3] == (True, "match")
    assert score("exact_match", "Hello", "hELLO", case_sensitive=False)[4] == {
        "output_text": "hello", "expected_text": "hello"
    }  # fmt: skip


def test_exact_match_is_case_sensitive_unless_case_sensitive_is_false():
    assert not score("exact_match", "Hello", "hello", case_sensitive=True)[1]
    assert not score("exact_match", "Hello", "hello", case_sensitive=None)[1]


# contains -----------------------------------------------------------------------------------------------------


def test_contains_explains_and_records_what_it_searched():
    assert score("contains", "Hello World", pattern="World") == (
        1.0, True, "found", "output contains 'World'", {"output_text": "Hello World", "pattern": "World"}
    )  # fmt: skip
    assert score("contains", "Hello World", pattern="moon") == (
        0.0, False, "not_found", "output does not contain 'moon'", {"output_text": "Hello World", "pattern": "moon"}
    )  # fmt: skip


def test_contains_with_case_sensitive_not_false_stays_case_sensitive():
    assert not score("contains", "Hello World", pattern="world", case_sensitive=None)[1]


def test_contains_bad_pattern_at_run_time_explains_the_config_error():
    assert score("contains", "x", pattern=3)[2:4] == (
        "config_error",
        "Invalid contains config: pattern must be a string, got 3",
    )
    assert score("contains", "x", pattern="")[2:4] == ("config_error", "contains requires a non-empty `pattern`")


# regex_match --------------------------------------------------------------------------------------------------


def test_regex_match_explains_what_matched_and_records_the_search():
    assert score("regex_match", "abc123", pattern=r"\d+") == (
        1.0, True, "match", r"pattern '\\d+' matched '123'", {"output_text": "abc123", "pattern": r"\d+"}
    )  # fmt: skip
    assert score("regex_match", "abc", pattern=r"\d+") == (
        0.0, False, "no_match", r"pattern '\\d+' did not match", {"output_text": "abc", "pattern": r"\d+"}
    )  # fmt: skip


def test_regex_match_without_a_string_pattern_is_an_error_verdict():
    assert score("regex_match", "abc", pattern=None) == (
        0.0, False, "error", "Invalid regex_match config: pattern is None", {}
    )  # fmt: skip


def test_regex_match_with_a_bad_pattern_records_the_pattern():
    result = score("regex_match", "abc", pattern="(")
    assert result[:3] == (0.0, False, "error") and result[4] == {"pattern": "("}
    assert result[3].startswith("Invalid regex: ")


# json_valid ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("output", [{"a": 1}, [1], 3, None])
def test_json_valid_passes_any_non_string_output_as_a_json_value(output):
    assert score("json_valid", output) == (1.0, True, "valid", "output is a JSON value", {"output_type": "json"})


def test_json_valid_parses_a_string_output_and_records_it():
    assert score("json_valid", '{"a":1}') == (1.0, True, "valid", "output parses as JSON", {"output_text": '{"a":1}'})
    bad = score("json_valid", "{oops")
    assert bad[:3] == (0.0, False, "invalid") and bad[4] == {"output_text": "{oops"}
    assert bad[3].startswith("output is not valid JSON: ")


# json_schema --------------------------------------------------------------------------------------------------


def test_json_schema_valid_output_is_explained():
    assert score("json_schema", {"a": 1}, schema={"type": "object"})[:4] == (
        1.0, True, "valid", "output matches the schema"
    )  # fmt: skip


def test_json_schema_an_unresolvable_ref_is_a_config_error_naming_the_schema():
    result = score("json_schema", {"a": 1}, schema={"$ref": "#/nope"})
    assert result[2] == "config_error" and result[3].startswith("invalid schema: ")


def test_json_schema_a_schema_that_cannot_be_applied_is_a_config_error_naming_the_exception():
    result = score("json_schema", {"a": 1}, schema={"$ref": "#"})  # refers to itself for ever
    assert result[:3] == (0.0, False, "config_error")
    assert result[3].startswith("invalid schema: RecursionError: maximum recursion depth exceeded")


def test_json_schema_lists_errors_by_instance_position_with_array_indexes_in_numeric_order():
    r = run_scorer(
        {"name": "json_schema", "config": {}},
        ScorerInput(output=list(range(11)), config={"schema": {"items": {"type": "string"}}}),
    )
    assert [e.split(":")[0] for e in r.metadata["errors"]] == [f"/{n}" for n in range(11)]
    assert r.explanation == "/0: 0 is not of type 'string'"


def test_json_schema_orders_errors_by_property_name_not_by_escaped_pointer():
    schema = {"properties": {"a/b": {"type": "string"}, "a~": {"type": "string"}}}
    r = run_scorer(
        {"name": "json_schema", "config": {}}, ScorerInput(output={"a~": 1, "a/b": 2}, config={"schema": schema})
    )
    assert r.metadata["errors"] == ["/a~1b: 2 is not of type 'string'", "/a~0: 1 is not of type 'string'"]


def test_json_schema_cuts_a_long_error_message_at_the_cap():
    long = "x" * 2000
    r = run_scorer({"name": "json_schema", "config": {}}, ScorerInput(output=5, config={"schema": {"const": long}}))
    message = r.metadata["errors"][0].removeprefix(": ")
    assert len(message) == 1000 and message.endswith("…")
    at_cap = run_scorer(
        {"name": "json_schema", "config": {}}, ScorerInput(output=5, config={"schema": {"const": "x" * 985}})
    )
    assert at_cap.metadata["errors"] == [f": '{'x' * 985}' was expected"]  # 1000 characters: kept whole
    short = run_scorer({"name": "json_schema", "config": {}}, ScorerInput(output=5, config={"schema": {"const": "x"}}))
    assert short.metadata["errors"] == [": 'x' was expected"]


# numeric_range ------------------------------------------------------------------------------------------------


def test_numeric_range_explains_the_value_and_the_bounds_as_rust_prints_them():
    assert score("numeric_range", 123.5, min=0) == (
        1.0, True, "in_range", "value 123.5 is in range (min: 0, max: none, inclusive: true)", {"value": "123.5"}
    )  # fmt: skip
    assert explanation("numeric_range", 11, min=1, max=10, inclusive=False) == (
        "value 11 is out of range (min: 1, max: 10, inclusive: false)"
    )


@pytest.mark.parametrize(
    ("output", "config", "shown", "inside"),
    [
        (10**400, {"min": 0}, "inf", True),  # an integer too big for a float is infinite
        (-(10**400), {"max": 0}, "-inf", True),
        (-(10**400), {"min": 0}, "-inf", False),
        ("-inf", {"max": 0}, "-inf", True),
        ("inf", {"min": 0}, "inf", True),
        ("nan", {"min": 0}, "NaN", False),  # NaN is out of every range
        (1e16, {"min": 0}, "1e+16", True),
        (9999999999999998.0, {"min": 0}, "9999999999999998", True),
        (" 5\u3000", {"min": 0}, "5", True),  # Rust trims Unicode white space
    ],
)
def test_numeric_range_reads_and_shows_numbers_as_rust_does(output, config, shown, inside):
    result = score("numeric_range", output, **config)
    assert (result[1], result[4]) == (inside, {"value": shown})
    assert result[3].startswith(f"value {shown} is {'in' if inside else 'out of'} range")


def test_numeric_range_does_not_trim_what_rust_does_not_treat_as_white_space():
    assert score("numeric_range", "\x1c5", min=0)[2:4] == ("parse_error", 'output is not numeric: "\\u001c5"')


@pytest.mark.parametrize(
    ("output", "shown"),
    [
        ({"b": 1, "a": "é"}, '{"a":"é","b":1}'),  # compact JSON, sorted keys, unescaped
        ("x" * 198, '"' + "x" * 198 + '"'),  # 200 characters: kept whole
        ("x" * 199, '"' + "x" * 198 + "…"),  # 201 characters: cut to 200
        ({1, 2}, '"{1, 2}"'),  # not JSON: its repr
    ],
)
def test_numeric_range_explains_a_non_numeric_output_in_compact_json(output, shown):
    assert score("numeric_range", output, min=0) == (0.0, False, "parse_error", f"output is not numeric: {shown}", {})


def test_numeric_range_explains_an_output_that_cannot_be_json_by_its_repr():
    circular: list[Any] = []
    circular.append(circular)
    assert explanation("numeric_range", circular, min=0) == "output is not numeric: [[...]]"


# levenshtein --------------------------------------------------------------------------------------------------


def test_levenshtein_default_threshold_zero_passes_any_similarity():
    assert score("levenshtein", "abc", "xyz")[:2] == (0.0, True)
    assert score("levenshtein", "abc", "xyz", threshold=None)[:2] == (0.0, True)


def test_levenshtein_records_distance_and_the_longer_utf8_length():
    assert score("levenshtein", "hello", "hallo", threshold=0.9) == (
        0.8, False, None, "Similarity: 80.00%, Distance: 1", {"distance": 1, "max_len": 5}
    )  # fmt: skip
    assert score("levenshtein", "é", "e")[4] == {"distance": 1, "max_len": 2}


def test_levenshtein_non_numeric_threshold_at_run_time_is_a_config_error():
    assert score("levenshtein", "a", "a", threshold="x")[2:4] == (
        "config_error", "levenshtein: config.threshold must be a number between 0 and 1"
    )  # fmt: skip


# create-time config checks ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "config", "message"),
    [
        ("contains", {}, "contains: config.pattern is required and must be a string"),
        ("contains", {"pattern": 1}, "contains: config.pattern is required and must be a string"),
        ("contains", {"pattern": ""}, "contains: config.pattern must be a non-empty string"),
        ("contains", {"pattern": "a", "case_sensitive": 1}, "contains: config.case_sensitive must be true or false"),
        ("regex_match", {}, "regex_match: config.pattern is required and must be a string"),
        ("regex_match", {"pattern": ""}, "regex_match: config.pattern must be a non-empty string"),
        ("regex_match", {"pattern": "["},
         "regex_match: config.pattern is not a valid regex: unterminated character set at position 0"),
        ("json_schema", {}, "json_schema: config.schema is required and must be a JSON Schema (object or boolean)"),
        ("json_schema", {"schema": {"a": float("nan")}},
         "json_schema: config.schema: invalid schema: Out of range float values are not JSON compliant"),
        ("numeric_range", {}, "numeric_range: config.min or config.max is required"),
        ("numeric_range", {"min": "1"}, "numeric_range: config.min must be a number"),
        ("numeric_range", {"max": True}, "numeric_range: config.max must be a number"),
        ("numeric_range", {"min": 1, "inclusive": 1}, "numeric_range: config.inclusive must be true or false"),
        ("numeric_range", {"min": float("inf")}, "numeric_range: config.min and config.max must be finite numbers"),
        ("numeric_range", {"max": float("nan")}, "numeric_range: config.min and config.max must be finite numbers"),
        ("numeric_range", {"min": 2, "max": 1}, "numeric_range: config.min must not exceed config.max"),
        ("levenshtein", {"threshold": 1.5}, "levenshtein: config.threshold must be a number between 0 and 1"),
        ("levenshtein", {"threshold": -0.1}, "levenshtein: config.threshold must be a number between 0 and 1"),
        ("levenshtein", {"threshold": True}, "levenshtein: config.threshold must be a number between 0 and 1"),
        ("levenshtein", {"threshold": "0.5"}, "levenshtein: config.threshold must be a number between 0 and 1"),
    ],
)  # fmt: skip
def test_a_bad_output_scorer_config_is_rejected_at_create_time_naming_the_field(name, config, message):
    assert rejected(name, config) == message


@pytest.mark.parametrize(
    ("name", "config"),
    [
        ("contains", {"pattern": "a", "case_sensitive": False}),
        ("regex_match", {"pattern": "a", "case_sensitive": True}),
        ("regex_match", {"pattern": "(?i)a"}),
        ("json_schema", {"schema": True}),
        ("numeric_range", {"min": 1, "max": 1}),
        ("numeric_range", {"max": 1, "inclusive": False}),
        ("levenshtein", {}),
        ("levenshtein", {"threshold": None}),
        ("levenshtein", {"threshold": 0}),
        ("levenshtein", {"threshold": 1}),
    ],
)
def test_a_good_output_scorer_config_is_accepted(name, config):
    assert parse_scorer_spec(json.dumps({"name": name, "config": config}))["config"] == config
