"""Output scorers json_schema, numeric_range, levenshtein and the Rust regex dialect: conformance, labels,
create-time validation, and properties (bounded, deterministic, never raising) of all eight output scorers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.scoring import BUILTINS, ScorerInput, parse_scorer_spec, run_scorer
from agnt5_evals.domain.scoring.dialects import parse_json_text, rust_dialect_problem

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
}
INTEGERS = {"type": "array", "items": {"type": "integer"}}
DRAFT7 = "http://json-schema.org/draft-07/schema#"


def score(name: str, output: Any, expected: Any = None, config: dict[str, Any] | None = None):
    config = config or {}
    spec = {"type": "builtin", "name": name, "config": config}
    return run_scorer(spec, ScorerInput(output=output, expected_output=expected, config=config))


def spec_error(name: str, config: Any = None) -> str:
    raw = name if config is None else json.dumps({"name": name, "config": config})
    with pytest.raises(Invalid) as caught:
        parse_scorer_spec(raw)
    return str(caught.value)


# --- Appendix A conformance rows ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "output", "expected", "config", "want"),
    [
        ("levenshtein", "hello", "hello", {}, (1.0, True, None)),
        ("json_schema", {"name": "Ada", "age": 30}, None, {"schema": PERSON}, (1.0, True, "valid")),
        ("json_schema", {"name": "Ada", "age": -1}, None, {"schema": PERSON}, (0.0, False, "invalid")),
        ("json_schema", "[1, 2, 3]", None, {"schema": INTEGERS}, (1.0, True, "valid")),
        ("json_schema", "{not json", None, {"schema": {"type": "object"}}, (0.0, False, "parse_error")),
        ("numeric_range", 5, None, {"min": 1, "max": 10}, (1.0, True, "in_range")),
        ("numeric_range", 10, None, {"min": 1, "max": 10, "inclusive": True}, (1.0, True, "in_range")),
        ("numeric_range", 10, None, {"min": 1, "max": 10, "inclusive": False}, (0.0, False, "out_of_range")),
        ("numeric_range", 11, None, {"min": 1, "max": 10}, (0.0, False, "out_of_range")),
        ("numeric_range", "3.14", None, {"min": 0, "max": 5}, (1.0, True, "in_range")),
        ("numeric_range", "not a number", None, {"min": 0, "max": 5}, (0.0, False, "parse_error")),
        ("numeric_range", 5, None, {}, (0.0, False, "config_error")),
    ],
)
def test_appendix_a_conformance(name, output, expected, config, want):
    result = score(name, output, expected, config)
    assert (result.score, result.passed, result.label) == want


def test_levenshtein_unit_cases_of_the_reference():
    result = score("levenshtein", "hello", "hallo", {"threshold": 0.9})
    assert result.score == pytest.approx(0.8)
    assert not result.passed
    assert score("levenshtein", "hello", "hallo", {"threshold": 0.8}).passed
    assert result.explanation == "Similarity: 80.00%, Distance: 1"
    kitten = score("levenshtein", "kitten", "sitting")
    assert kitten.evidence["distance"] == 3
    assert kitten.explanation == "Similarity: 57.14%, Distance: 3"
    assert kitten.passed  # the default threshold 0.0 always passes


# --- levenshtein ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "expected", "similarity", "distance"),
    [
        ("é", "e", 0.5, 1),  # one code point apart, but "é" is 2 UTF-8 bytes: 1 - 1/2
        ("😀", "", 0.75, 1),  # 4 bytes, 1 code point
        ("日本語", "日本", 1 - 1 / 9, 1),
        ("", "", 1.0, 0),
        (None, None, 1.0, 0),  # null is "" on both sides
        ({"b": 1, "a": 2}, {"a": 2, "b": 1}, 1.0, 0),  # compact JSON with sorted keys
    ],
)
def test_levenshtein_counts_code_points_but_divides_by_utf8_bytes(output, expected, similarity, distance):
    result = score("levenshtein", output, expected)
    assert result.score == pytest.approx(similarity)
    assert result.evidence["distance"] == distance
    assert result.label is None


def test_levenshtein_threshold_and_bad_config():
    assert not score("levenshtein", "é", "e", {"threshold": 0.51}).passed
    assert score("levenshtein", "é", "e", {"threshold": 0.5}).passed
    bad = score("levenshtein", "a", "a", {"threshold": "high"})
    assert (bad.score, bad.passed, bad.label) == (0.0, False, "config_error")
    assert "config.threshold" in bad.explanation


# --- json_schema ----------------------------------------------------------------------------------


def test_json_schema_invalid_lists_every_error_with_its_json_pointer():
    result = score("json_schema", {"age": "x", "tags": {"a/b": 1, "c~d": 2}}, config={"schema": {
        "type": "object", "required": ["name"],
        "properties": {"age": {"type": "integer"}, "tags": {"additionalProperties": {"type": "string"}}},
    }})  # fmt: skip
    assert result.label == "invalid"
    errors = result.metadata["errors"]
    assert errors[0] == ": 'name' is a required property"  # the root is the empty pointer
    assert "/age: 'x' is not of type 'integer'" in errors
    assert "/tags/a~1b: 1 is not of type 'string'" in errors
    assert "/tags/c~0d: 2 is not of type 'string'" in errors
    assert result.explanation == errors[0]
    assert errors == sorted(errors, key=lambda line: line.split(":")[0])


def test_json_schema_errors_are_ordered_by_instance_path_with_numeric_indexes():
    items = ["x"] * 12
    result = score("json_schema", items, config={"schema": INTEGERS})
    pointers = [line.split(":")[0] for line in result.metadata["errors"]]
    assert pointers == [f"/{i}" for i in range(12)]


def test_json_schema_valid_non_string_outputs_are_validated_as_is():
    assert score("json_schema", 3, config={"schema": {"type": "integer"}}).label == "valid"
    assert score("json_schema", None, config={"schema": {"type": "null"}}).label == "valid"
    assert score("json_schema", '"text"', config={"schema": {"type": "string"}}).label == "valid"
    assert score("json_schema", "text", config={"schema": {"type": "string"}}).label == "parse_error"
    valid = score("json_schema", [1], config={"schema": INTEGERS})
    assert valid.metadata == {"errors": []}


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", "1e400", "[" * 128 + "]" * 128])
def test_json_schema_parses_strings_as_strictly_as_serde(text):
    result = score("json_schema", text, config={"schema": {}})
    assert result.label == "parse_error"
    assert result.explanation.startswith("output is not valid JSON: ")


def test_json_schema_honours_dollar_schema_and_treats_format_as_annotation():
    tuple_schema = {"$schema": DRAFT7, "items": [{"type": "string"}]}
    assert score("json_schema", [1], config={"schema": tuple_schema}).label == "invalid"
    assert score("json_schema", ["a", 1], config={"schema": tuple_schema}).label == "valid"
    email = {"type": "string", "format": "email"}
    assert score("json_schema", '"not an email"', config={"schema": email}).label == "valid"


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({}, "config.schema is required"),
        ({"schema": "object"}, "config.schema is required"),
        ({"schema": {"type": "nope"}}, "invalid schema: "),
        ({"schema": {"items": [{"type": "string"}]}}, "invalid schema: "),  # tuple items are not 2020-12
        ({"schema": {"$schema": "https://example.com/mine"}}, "unknown $schema"),
        ({"schema": {"$ref": "https://example.com/remote.json"}}, "invalid schema: "),
        ({"schema": {"$ref": "#"}}, "invalid schema: "),
    ],
)
def test_json_schema_bad_schema_is_a_config_error_at_run_time(config, fragment):
    result = score("json_schema", {"a": 1}, config=config)
    assert (result.score, result.passed, result.label) == (0.0, False, "config_error")
    assert fragment in result.explanation


# --- numeric_range --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "config", "label"),
    [
        (0, {"min": 0}, "in_range"),
        (-1, {"min": 0}, "out_of_range"),
        (10, {"max": 10}, "in_range"),
        (10, {"max": 10, "inclusive": False}, "out_of_range"),
        (1, {"min": 1, "max": 10, "inclusive": False}, "out_of_range"),
        (2.5, {"min": 1, "max": 10, "inclusive": False}, "in_range"),
        (" \t4\n", {"min": 0, "max": 5}, "in_range"),
        ("\u30004\u2003", {"min": 0, "max": 5}, "in_range"),  # Unicode White_Space is trimmed
        ("1e1", {"min": 0, "max": 10}, "in_range"),
        (".5", {"min": 0, "max": 1}, "in_range"),
        ("5.", {"min": 0, "max": 5}, "in_range"),
        ("+3", {"min": 0, "max": 5}, "in_range"),
        ("inf", {"min": 0, "max": 5}, "out_of_range"),
        ("-Infinity", {"min": 0, "max": 5}, "out_of_range"),
        ("NaN", {"min": 0, "max": 5}, "out_of_range"),
        ("nan", {"min": 0}, "out_of_range"),  # NaN compares false with everything
        ("inf", {"min": 0}, "in_range"),  # IEEE: inf >= 0 (one-sided bound)
        (10**400, {"max": 5}, "out_of_range"),  # beyond f64: +inf
        ("1_000", {"min": 0}, "parse_error"),  # Python float() accepts, Rust does not
        ("\u0663", {"min": 0}, "parse_error"),  # Arabic-Indic digit three
        ("0x10", {"min": 0}, "parse_error"),
        ("", {"min": 0}, "parse_error"),
        (True, {"min": 0}, "parse_error"),
        (None, {"min": 0}, "parse_error"),
        ([1], {"min": 0}, "parse_error"),
    ],
)
def test_numeric_range_labels(output, config, label):
    result = score("numeric_range", output, config=config)
    assert result.label == label
    assert (result.score, result.passed) == ((1.0, True) if label == "in_range" else (0.0, False))


def test_numeric_range_explanations():
    inside = score("numeric_range", "3.14", config={"min": 0, "max": 5})
    assert inside.explanation == "value 3.14 is in range (min: 0, max: 5, inclusive: true)"
    outside = score("numeric_range", 7, config={"max": 5, "inclusive": False})
    assert outside.explanation == "value 7 is out of range (min: none, max: 5, inclusive: false)"
    garbage = score("numeric_range", {"n": "x"}, config={"min": 0})
    assert garbage.explanation == 'output is not numeric: {"n":"x"}'


@pytest.mark.parametrize(
    ("config", "field"),
    [({}, "config.min or config.max"), ({"min": "1"}, "config.min"), ({"max": True}, "config.max"),
     ({"min": 1, "inclusive": "yes"}, "config.inclusive"), ({"min": None, "max": None}, "config.min or config.max")],
)  # fmt: skip
def test_numeric_range_bad_config_at_run_time_is_config_error(config, field):
    result = score("numeric_range", 5, config=config)
    assert (result.score, result.passed, result.label) == (0.0, False, "config_error")
    assert field in result.explanation


# --- regex dialect --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [r"a(?=b)", r"a(?!b)", r"(?<=a)b", r"(?<!a)b", r"(a)\1", r"\0", r"[\1]", r"(?P<x>a)(?P=x)", r"(a)?(?(1)b|c)"],
)
def test_regex_rejects_look_around_and_back_references(pattern):
    result = score("regex_match", "ab", config={"pattern": pattern})
    assert (result.score, result.passed, result.label) == (0.0, False, "error")
    assert result.explanation.startswith("Invalid regex: ")
    assert "look-around/back-references are not supported" in result.explanation
    assert "look-around/back-references are not supported" in spec_error("regex_match", {"pattern": pattern})


@pytest.mark.parametrize("pattern", [r"(?>a)", r"a++", r"a*+", r"a?+", r"a{2}+"])
def test_regex_rejects_atomic_groups_and_possessive_quantifiers(pattern):
    result = score("regex_match", "aa", config={"pattern": pattern})
    assert result.label == "error"
    assert "not supported (Rust regex dialect)" in result.explanation


@pytest.mark.parametrize(
    ("pattern", "text", "label"),
    [
        (r"\\1", "\\1", "match"),  # an escaped backslash followed by a literal 1
        (r"[(?=]", "=", "match"),  # look-ahead spelling inside a class is literal
        (r"[]1\\]+", "]", "match"),
        (r"(?i)HELLO", "hello", "match"),
        (r"(?P<word>\w+)", "hi", "match"),
        (r"(?:ab)+?", "abab", "match"),
        (r"a+\+", "aa+", "match"),
        (r"\d{2}", "a1", "no_match"),
        (r"^\d+$", "42", "match"),
    ],
)
def test_regex_keeps_everything_the_rust_dialect_allows(pattern, text, label):
    assert rust_dialect_problem(pattern) is None
    assert score("regex_match", text, config={"pattern": pattern}).label == label
    parse_scorer_spec(json.dumps({"name": "regex_match", "config": {"pattern": pattern}}))


def test_regex_python_errors_never_raise():
    assert score("regex_match", "a", config={"pattern": "a{99999999999}"}).label == "error"
    assert score("regex_match", "a", config={"pattern": "(?<=a+)b"}).label == "error"


# --- json_valid (serde-strict parsing) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "label"),
    [("NaN", "invalid"), ("[-Infinity]", "invalid"), ("1e400", "invalid"), ("1" * 400, "invalid"),
     ("[" * 127 + "]" * 127, "valid"), ("[" * 128 + "]" * 128, "invalid"), ("[" * 5000 + "]" * 5000, "invalid"),
     ("1e308", "valid"), (' {"a": [1, 2.5, null]} ', "valid"), ('"\\ud800"', "invalid"),
     ('{"\\udc00": 1}', "invalid"), ('"\\ud83d\\ude00"', "valid")],
)  # fmt: skip
def test_json_valid_is_as_strict_as_serde(text, label):
    assert score("json_valid", text).label == label


def test_parse_json_text_never_raises_and_reports_why():
    assert parse_json_text('{"a": 1}') == ({"a": 1}, None)
    value, problem = parse_json_text("[" * 200 + "]" * 200)
    assert value is None and problem == "recursion limit exceeded"


# --- create-time validation -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["json_schema", "numeric_range", "structured_assertions"])
def test_bare_names_needing_config_are_rejected(name):
    message = spec_error(name)
    assert name in message and "needs config" in message


@pytest.mark.parametrize(
    ("name", "config", "fragments"),
    [
        ("json_schema", {}, ["json_schema", "config.schema"]),
        ("json_schema", {"schema": {"type": "nope"}}, ["json_schema", "config.schema"]),
        ("json_schema", {"schema": {"$schema": "urn:nope"}}, ["json_schema", "config.schema", "unknown $schema"]),
        ("numeric_range", {}, ["numeric_range", "config.min or config.max is required"]),
        ("numeric_range", {"min": "0"}, ["numeric_range", "config.min"]),
        ("numeric_range", {"min": 0, "inclusive": 1}, ["numeric_range", "config.inclusive"]),
        ("numeric_range", {"min": 5, "max": 1}, ["numeric_range", "config.min", "config.max"]),
        ("numeric_range", {"max": float("inf")}, ["config.max", "Infinity is not JSON"]),  # the strict reader
        ("levenshtein", {"threshold": 2}, ["levenshtein", "config.threshold"]),
        ("levenshtein", {"threshold": "0.5"}, ["levenshtein", "config.threshold"]),
        ("regex_match", {"pattern": "("}, ["regex_match", "config.pattern"]),
        ("structured_assertions", {}, ["structured_assertions", "config.assertions"]),
        ("structured_assertions", {"assertions": [{"expr": "size("}]}, ["structured_assertions", "assertions[0].expr"]),
    ],
)
def test_bad_configs_are_rejected_naming_scorer_and_field(name, config, fragments):
    message = spec_error(name, config)
    for fragment in fragments:
        assert fragment in message


def test_valid_specs_are_accepted():
    assert parse_scorer_spec("levenshtein") == {"type": "builtin", "name": "levenshtein", "config": {}}
    for name, config in [
        ("levenshtein", {"threshold": 0.8}),
        ("json_schema", {"schema": PERSON}),
        ("json_schema", {"schema": True}),
        ("numeric_range", {"max": 3}),
        ("numeric_range", {"min": 1, "max": 1, "inclusive": False}),
        ("structured_assertions", {"assertions": [{"expr": "is_array(output)"}], "score_threshold": 0.5}),
    ]:
        assert parse_scorer_spec(json.dumps({"name": name, "config": config}))["config"] == config


# --- properties of every pure output scorer -------------------------------------------------------

TRICKY = ["", "NaN", "inf", " 3.5 ", "-0", "1e400", "[1, 2]", '{"a": 1}', "[[[[]]]]", "é😀", "\\1", "null", '"x"']
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(TRICKY)
)
JSON = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip
CONFIGS: dict[str, dict[str, Any]] = {
    "exact_match": {"case_sensitive": False},
    "contains": {"pattern": "a"},
    "regex_match": {"pattern": r"\d+|é"},
    "json_valid": {},
    "json_schema": {"schema": {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}},
    "numeric_range": {"min": 0, "max": 10},
    "levenshtein": {"threshold": 0.5},
    "structured_assertions": {"assertions": [
        {"expr": "is_array(output_json) && size(output_json) >= 0"}, {"expr": "output == expected"},
        {"expr": "unique(output) || any(output, is_string)"}, {"expr": "output.a < expected.b"},
    ], "score_threshold": 0.5},
}  # fmt: skip
CONFIG_KEYS = ["pattern", "case_sensitive", "schema", "min", "max", "inclusive", "threshold", "assertions",
               "score_threshold"]  # fmt: skip
PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_every_output_scorer_is_covered_by_the_properties():
    assert {s.name for s in BUILTINS.values() if s.kind == "output"} == set(CONFIGS)


def _check_bounded_and_deterministic(name: str, inp: ScorerInput) -> None:
    fn = BUILTINS[name].fn  # called directly: run_scorer would hide an exception and clamp the score
    first, second = fn(inp), fn(inp)
    assert 0.0 <= first.score <= 1.0
    assert isinstance(first.passed, bool)
    assert first == second


@pytest.mark.parametrize("name", sorted(CONFIGS))
@PROPERTY
@given(output=JSON, expected=JSON)
def test_scores_are_bounded_deterministic_and_never_raise(name, output, expected):
    _check_bounded_and_deterministic(name, ScorerInput(output=output, expected_output=expected, config=CONFIGS[name]))


@pytest.mark.parametrize("name", sorted(CONFIGS))
@PROPERTY
@given(output=JSON, config=st.dictionaries(st.sampled_from(CONFIG_KEYS), JSON, max_size=4))
def test_arbitrary_configs_never_raise(name, output, config):
    _check_bounded_and_deterministic(name, ScorerInput(output=output, expected_output=output, config=config))
