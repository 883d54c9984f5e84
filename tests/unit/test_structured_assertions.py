"""structured_assertions: the reference fixtures and checklist (§3.5), every operator, function and limit."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.scoring import BUILTINS, ScorerInput, parse_scorer_spec
from agnt5_evals.domain.scoring.structured import ParseError, compile_config, parse_expression
from agnt5_evals.domain.scoring.structured_eval import Binary, Call, Literal, Path, Unary

_fn = BUILTINS["structured_assertions"].fn


def run(exprs: list[Any], output: Any = None, expected: Any = None, input: Any = None, **config: Any):
    """Score with assertions given as expression strings or full ``{name?, expr}`` objects."""
    assertions = [e if isinstance(e, dict) else {"expr": e} for e in exprs]
    inp = ScorerInput(output=output, expected_output=expected, input=input, config={"assertions": assertions, **config})
    return _fn(inp)


def verdict(result) -> tuple[float, bool, str | None]:
    return result.score, result.passed, result.label


def holds(expr: str, output: Any = None, expected: Any = None, input: Any = None) -> bool:
    """True/False for an assertion that evaluates; fails the test on any error label."""
    result = run([expr], output, expected, input)
    assert result.label in ("pass", "fail"), (expr, result.label, result.explanation)
    return result.passed


def label(expr: str, output: Any = None, expected: Any = None, input: Any = None) -> str | None:
    return run([expr], output, expected, input).label


# --- reference fixtures (T-SAF) -------------------------------------------------------------------

RECIPE = ["is_array(output_json)", "all(output_json, is_number)", "unique(output_json)",
          "size(output_json) == expected.expected_length"]  # fmt: skip


@pytest.mark.parametrize(
    ("exprs", "output", "expected", "input", "config", "want"),
    [
        (RECIPE, [1, 2, 3], {"expected_length": 3}, None, {}, (1.0, True, "pass")),
        (["is_array(output_json)", "size(output_json) == 2"], "[1,2]", None, None, {}, (1.0, True, "pass")),
        (["unique(output_json)", "size(output_json) == 3"], [1, 1, 2], None, None, {}, (0.5, False, "fail")),
        (["false", "true"], None, None, None, {"score_threshold": 0.5}, (0.5, True, "pass")),
        (["input.ok && (output.x >= expected.minimum || false)"], {"x": 4}, {"minimum": 3}, {"ok": True}, {},
         (1.0, True, "pass")),
        (["false && output.absent"], {}, None, None, {}, (0.0, False, "fail")),
        (["size(output) == 2"], "😀a", None, None, {}, (1.0, True, "pass")),
        (["is_null(output.x)"], {"x": None}, None, None, {}, (1.0, True, "pass")),
        (["output == expected"], [1, {"n": 2.0}], [1.0, {"n": 2}], None, {}, (1.0, True, "pass")),
        (["all(output, is_number)", "!any(output, is_string)", "unique(output)"], [], None, None, {},
         (1.0, True, "pass")),
        (["output.missing == null"], {}, 2**53, None, {}, (0.0, False, "input_error")),
        (["size(output)"], True, None, None, {}, (0.0, False, "input_error")),
        (["is_array(output_json)"], "[", None, None, {}, (0.0, False, "input_error")),
        (["size(output)"], [], None, None, {}, (0.0, False, "input_error")),
        (["output == expected"], 2**53, 2**53, None, {}, (0.0, False, "input_error")),
        (["eval(output)"], [], None, None, {}, (0.0, False, "config_error")),
        (["output; process.exit()"], [], None, None, {}, (0.0, False, "config_error")),
        (["size(output, input)"], [], None, None, {}, (0.0, False, "config_error")),
        (["all(output, dangerous)"], [], None, None, {}, (0.0, False, "config_error")),
        (["size("], [], None, None, {}, (0.0, False, "config_error")),
        (["(" * 33 + "true" + ")" * 33], [], None, None, {}, (0.0, False, "config_error")),
        ([" || ".join(["false"] * 66)], [], None, None, {}, (0.0, False, "config_error")),
        ([], None, None, None, {}, (0.0, False, "config_error")),
        (["true"] * 65, None, None, None, {}, (0.0, False, "config_error")),
        ([{"name": "x", "expr": "true"}, {"name": "x", "expr": "true"}], None, None, None, {},
         (0.0, False, "config_error")),
        (["true"], None, None, None, {"score_threshold": 2}, (0.0, False, "config_error")),
        (["true"], None, None, None, {"score_threshold": 1.5}, (0.0, False, "config_error")),
        (['output.type == "ok"'], {"type": "ok"}, None, None, {}, (1.0, True, "pass")),
        (["all(output, (is_number))"], [1, 2], None, None, {}, (1.0, True, "pass")),
        (["unique(output)"], [1, 1.0], None, None, {}, (0.0, False, "fail")),
        (["true || unknown(output)"], [], None, None, {}, (0.0, False, "config_error")),
        (["1==1"], None, None, None, {}, (1.0, True, "pass")),
        (["is_array(output_json)"], "[" * 65 + "null" + "]" * 65, None, None, {}, (0.0, False, "input_error")),
    ],
)  # fmt: skip
def test_reference_fixtures(exprs, output, expected, input, config, want):
    result = run(exprs, output, expected, input, **config)
    assert verdict(result) == want, result.explanation
    if result.label in ("pass", "fail"):
        assert len(result.metadata["assertions"]) == len(exprs)


# --- result shape ---------------------------------------------------------------------------------


def test_result_shape_names_and_explanation():
    result = run([{"name": "is list", "expr": "is_array(output)"}, "size(output) == 3", "size(output) > 5"], [1, 2, 3])
    assert verdict(result) == (pytest.approx(2 / 3), False, "fail")
    assert result.explanation == "2/3 assertions passed"
    assert result.metadata == {"assertions": [
        {"name": "is list", "expr": "is_array(output)", "passed": True},
        {"name": "assertion_2", "expr": "size(output) == 3", "passed": True},
        {"name": "assertion_3", "expr": "size(output) > 5", "passed": False},
    ]}  # fmt: skip


def test_input_error_stops_evaluation_and_lists_assertions_so_far():
    result = run(["is_object(output)", "output.y == 1", "true"], {"x": 1})
    assert verdict(result) == (0.0, False, "input_error")
    assert result.explanation == "missing input field"
    assert result.metadata["assertions"] == [
        {"name": "assertion_1", "expr": "is_object(output)", "passed": True},
        {"name": "assertion_2", "expr": "output.y == 1", "passed": False, "error": "missing input field"},
    ]


def test_config_error_has_empty_assertion_metadata():
    result = run(["size("])
    assert result.metadata == {"assertions": []}
    assert result.explanation.startswith("structured_assertions: config.assertions[0].expr: expected identifier")


@pytest.mark.parametrize(("threshold", "want"), [(0, (0.5, True, "pass")), (0.5, (0.5, True, "pass")),
                                                 (0.75, (0.5, False, "fail")), (1, (0.5, False, "fail"))])  # fmt: skip
def test_score_threshold(threshold, want):
    assert verdict(run(["true", "false"], score_threshold=threshold)) == want


# --- operators ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "output", "expected", "want"),
    [
        ("output == expected", {"a": [1, "x", None, True]}, {"a": [1.0, "x", None, True]}, True),
        ("output == expected", {"a": 1}, {"a": 1, "b": 2}, False),  # objects need identical key sets
        ("output == expected", {"a": 1}, {"b": 1}, False),
        ("output == expected", [1, 2], [2, 1], False),
        ("output == expected", True, 1, False),  # a boolean is not a number
        ("output == expected", "1", 1, False),
        ("output == null", None, None, True),
        ("output != expected", "a", "b", True),
        ("output != expected", 2, 2.0, False),
        ("output < expected", 1, 2, True),
        ("output < expected", 2, 2, False),
        ("output <= expected", 2, 2.0, True),
        ("output > expected", -1.5, -2, True),
        ("output >= expected", 3, 4, False),
        ("output == 9007199254740991", 2**53 - 1, None, True),  # the largest safe number
        ("1 < 2 == true", None, None, True),  # comparisons chain left to right: (1 < 2) == true
        ("!false && !(1 == 2)", None, None, True),
        ("false || true && false", None, None, False),  # && binds tighter than ||
        ("(false || true) && true", None, None, True),
        ("true || output.absent", {}, None, True),  # short-circuit: the right side is never evaluated
    ],
)
def test_operators(expr, output, expected, want):
    assert holds(expr, output, expected) is want


@pytest.mark.parametrize(
    ("expr", "output", "message"),
    [
        ("output == 1", 2**53, "expected a safe finite number"),
        ("output < 1", "a", "expected a safe finite number"),
        ("output <= 1", None, "expected a safe finite number"),
        ("1 < 2 < 3", None, "expected a safe finite number"),  # (1 < 2) is a boolean
        ("output == 1", 1e300, "expected a safe finite number"),
        ("1 && true", None, "expected boolean"),
        ("true && 1", None, "expected boolean"),
        ("false || output", 3, "expected boolean"),
        ("!output", 1, "expected boolean"),
        ("!output == true", 1, "expected boolean"),  # ! binds to the atom, not to the comparison
        ("true && output.absent", {}, "missing input field"),
        ("output", "yes", "expected boolean"),  # the final value must be a boolean
        ("null", None, "expected boolean"),
    ],
)
def test_operator_input_errors(expr, output, message):
    result = run([expr], output)
    assert verdict(result) == (0.0, False, "input_error")
    assert result.explanation == message


def test_unsafe_number_only_matters_when_compared_as_a_number():
    assert holds('output == "x"', 2**53) is False
    assert holds("is_number(output)", 2**53) is True


# --- functions ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("predicate", "true_for", "false_for"),
    [
        ("is_array", [[]], [{}, "[]", None]),
        ("is_object", [{}], [[], "{}", None]),
        ("is_string", ["", "x"], [1, None, ["x"]]),
        ("is_number", [0, -1.5, 2**60], [True, "1", None]),
        ("is_boolean", [True, False], [0, "true", None]),
        ("is_null", [None], [0, "", False, []]),
    ],
)
def test_type_predicates(predicate, true_for, false_for):
    for value in true_for:
        assert holds(f"{predicate}(output)", value) is True, value
    for value in false_for:
        assert holds(f"{predicate}(output)", value) is False, value


@pytest.mark.parametrize(
    ("expr", "output", "want"),
    [
        ("size(output) == 3", [1, 2, 3], True),
        ("size(output) == 2", {"a": 1, "b": 2}, True),
        ("size(output) == 4", "é😀ab", True),  # code points, not bytes or UTF-16 units
        ("size(output) == 0", "", True),
        ("unique(output)", [1, "1", [1], {"a": 1}, True, None], True),
        ("unique(output)", [{"a": [1]}, {"a": [1.0]}], False),
        ("unique(output)", [True, 1], True),
        ("all(output, is_string)", ["a", "b"], True),
        ("all(output, is_string)", ["a", 1], False),
        ("any(output, is_null)", [1, None], True),
        ("any(output, is_null)", [1, 2], False),
        ("any(output, is_null)", [], False),
        ("all(output, is_null)", [], True),
        ("all(output, ((is_object)))", [{}], True),
        ("size(output) == size(expected_json)", [1], True),
    ],
)
def test_functions(expr, output, want):
    assert holds(expr, output, expected="[2]") is want


@pytest.mark.parametrize(
    ("expr", "output", "message"),
    [
        ("size(output) == 1", 5, "size requires array, object, or string"),
        ("size(output) == 1", None, "size requires array, object, or string"),
        ("unique(output)", "abc", "function requires array"),
        ("all(output, is_number)", {"a": 1}, "function requires array"),
        ("any(output, is_number)", None, "function requires array"),
        ("unique(output)", [2**53, 1], "expected a safe finite number"),
    ],
)
def test_function_input_errors(expr, output, message):
    result = run([expr], output)
    assert (result.label, result.explanation) == ("input_error", message)


@pytest.mark.parametrize(
    "expr",
    ["eval(output)", "size()", "size(output, output)", "is_null()", "unique(output, output)", "all(output)",
     "any(output, is_string, output)", "all(output, is_string(output))", "all(output, !is_string)",
     "all(output, output)", "any(output, size)", "all(output, is_number.x)", "output(1)", "size(output,)"],
)  # fmt: skip
def test_function_config_errors(expr):
    assert label(expr, []) == "config_error"


# --- paths and roots ------------------------------------------------------------------------------


def test_paths_and_roots():
    doc = {"a": {"b": {"0": "zero"}}, "type": "t"}
    assert holds('output.a.b.0 == "zero"', doc)
    assert holds("output . a . b == expected", doc, {"0": "zero"})
    assert holds("input.k == 1 && is_null(expected)", None, None, {"k": 1})  # a missing expected is null
    assert holds("input_json.k == 1 && size(expected_json) == 1", None, "[1]", '{"k": 1}')
    assert holds("is_string(output) && is_array(output_json)", "[]")
    assert holds("is_null(is_number)")  # the reference quirk: a bare predicate name is a root that is null
    for expr, output in [("output.0 == 1", [1]), ("output.a.b == 1", {"a": 3}), ("output.x == 1", None)]:
        assert run([expr], output).explanation == "missing input field"


@pytest.mark.parametrize(
    ("output", "message"),
    [("[", "invalid encoded JSON"), ("NaN", "invalid encoded JSON"), ("1e400", "invalid encoded JSON"),
     ("[" * 200 + "]" * 200, "invalid encoded JSON"), ("[" * 65 + "]" * 65, None),
     ("[" * 66 + "]" * 66, "JSON structure exceeds limits")],
)  # fmt: skip
def test_encoded_json_roots(output, message):
    result = run(["is_array(output_json)"], output)
    if message is None:
        assert result.label == "pass"
    else:
        assert (result.label, result.explanation) == ("input_error", message)


@pytest.mark.parametrize("expr", ["config.assertions == null", "foo == 1", "Output == 1", "is_number.x"])
def test_unknown_roots_are_config_errors(expr):
    result = run([expr])
    assert result.label == "config_error"
    assert "unknown root" in result.explanation


# --- lexical rules --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "output", "want"),
    [
        ('output == "a\\"b\\u00e9"', 'a"bé', True),
        ('output == "😀"', "😀", True),
        ('output == "\\ud83d\\ude00"', "😀", True),
        ("output == -1.5e2", -150, True),
        ("output == 0", -0.0, True),
        ("size(output)\t==\n3\x0b&&\x0ctrue\r", [1, 2, 3], True),
    ],
)
def test_literals_and_whitespace(expr, output, want):
    assert holds(expr, output) is want


@pytest.mark.parametrize(
    "expr",
    ["01 == 1", "1. == 1", "- 1 == -1", "1e400 == 1", '"open', "'single' == 1", '"\\ud800" == 1', "1-1 == 0",
     "true = true", "true & true", "true | false", "é", "output[0]", "(true", "true)", "!", "", " ",
     "True", '"tab\there"'],
)  # fmt: skip
def test_malformed_expressions_are_config_errors(expr):
    result = run([expr])
    assert (result.score, result.passed, result.label) == (0.0, False, "config_error")


def test_parse_tree_precedence_and_associativity():
    tree = parse_expression("!is_null(output) || output.x == 1 && size(output) < 2 < 3")
    assert isinstance(tree, Binary) and tree.op == "||"
    assert tree.left == Unary(Call("is_null", (Path(("output",)),)))
    right = tree.right
    assert isinstance(right, Binary) and right.op == "&&"
    assert right.left == Binary("==", Path(("output", "x")), Literal(1))
    assert right.right == Binary("<", Binary("<", Call("size", (Path(("output",)),)), Literal(2)), Literal(3))


def test_parse_errors_name_the_offset():
    with pytest.raises(ParseError, match="unknown function 'nope' at offset 8"):
        parse_expression("true && nope(output)")
    with pytest.raises(ParseError, match="unexpected expression suffix at offset 5"):
        parse_expression("true false")


# --- limits ---------------------------------------------------------------------------------------


def test_operator_limit_counts_every_binary_operator():
    assert label(" || ".join(["false"] * 65)) == "fail"  # 64 operators
    assert label(" || ".join(["false"] * 66)) == "config_error"
    assert label(" && ".join(["1 == 1"] * 32) + " && 1 < 2") == "config_error"  # 32 + 31 + 2 = 65 operators
    assert label("all(output, is_null) && " + " && ".join(["size(output) == 0"] * 32), []) == "pass"  # 64


def test_nesting_limit_counts_atoms():
    assert label("(" * 31 + "true" + ")" * 31) == "pass"  # 32 atoms
    assert label("(" * 32 + "true" + ")" * 32) == "config_error"
    assert label("!" * 31 + "false") == "pass"  # 31 negations + the literal = 32 atoms
    assert label("!" * 32 + "true") == "config_error"
    assert label("size(" * 31 + "output" + ")" * 31, "") == "input_error"  # 32 atoms: parses, size(number) fails
    assert label("size(" * 32 + "output" + ")" * 32, "") == "config_error"


def test_assertion_count_limit():
    assert verdict(run(["true"] * 64)) == (1.0, True, "pass")
    assert run(["true"] * 65).label == "config_error"
    assert run([]).label == "config_error"


@pytest.mark.parametrize(
    ("assertion", "ok"),
    [
        ({"name": "n" * 256, "expr": "true"}, True),
        ({"name": "é" * 128, "expr": "true"}, True),  # 256 bytes
        ({"name": "n" * 257, "expr": "true"}, False),
        ({"name": "é" * 129, "expr": "true"}, False),
        ({"name": "", "expr": "true"}, False),
        ({"name": None, "expr": "true"}, False),
        ({"name": 3, "expr": "true"}, False),
        ({"expr": "true" + " " * 4092}, True),  # 4096 bytes
        ({"expr": "true" + " " * 4093}, False),
        ({"expr": ""}, False),
        ({"expr": 1}, False),
        ({}, False),
        ("true", False),  # an assertion must be an object
    ],
)
def test_assertion_name_and_expr_limits(assertion, ok):
    result = _fn(ScorerInput(output=None, config={"assertions": [assertion]}))
    assert result.label == ("pass" if ok else "config_error")


def test_default_names_collide_with_explicit_ones():
    result = run(["true", {"name": "assertion_1", "expr": "true"}])
    assert result.label == "config_error"
    assert "duplicate assertion name 'assertion_1'" in result.explanation


@pytest.mark.parametrize("threshold", [2, 1.5, -0.1, True, None, "0.5", float("nan")])
def test_bad_score_thresholds(threshold):
    config = {"assertions": [{"expr": "true"}], "score_threshold": threshold}
    assert compile_config(config) == "config.score_threshold must be a number between 0 and 1"
    if threshold == threshold:  # NaN is not JSON: at run time it is an input error before any config check
        assert run(["true"], score_threshold=threshold).label == "config_error"


def test_document_size_limit():
    assert run(["true"], "a" * 1_048_000).label == "pass"
    result = run(["true"], "a" * 1_048_577)
    assert (result.label, result.explanation) == ("input_error", "input exceeds 1 MiB")


def nested(levels: int) -> Any:
    value: Any = None
    for _ in range(levels):
        value = [value]
    return value


def test_document_depth_limit():
    assert run(["true"], nested(63)).label == "pass"  # output sits at depth 1: its null leaf at 64
    result = run(["true"], nested(64))
    assert (result.label, result.explanation) == ("input_error", "JSON structure exceeds limits")
    assert run(["true"], nested(66)).label == "input_error"  # the reference's own resource test


def test_document_node_limit():
    # root, output, input, expected, config, assertions, the assertion, its expr: 8 nodes + the items
    assert run(["true"], [0] * 99_992).label == "pass"
    assert run(["true"], [0] * 99_993).explanation == "JSON structure exceeds limits"


def test_array_limit_of_4096_elements():
    assert holds("all(output, is_number)", [0] * 4096)
    for expr in ["all(output, is_number)", "any(output, is_string)", "unique(output)"]:
        result = run([expr], [0] * 4097)
        assert (result.label, result.explanation) == ("input_error", "array exceeds 4096 elements")


def test_step_budget_is_shared_across_assertions():
    distinct = list(range(250))  # unique() spends 2 steps per pair: 2 * 31,125
    assert run(["unique(output)"], distinct).label == "pass"
    result = run([{"name": "a", "expr": "unique(output)"}, {"name": "b", "expr": "unique(output)"}], distinct)
    assert (result.label, result.explanation) == ("input_error", "evaluation budget exceeded")
    assert [a["passed"] for a in result.metadata["assertions"]] == [True, False]
    assert run(["unique(output)"], list(range(1000))).explanation == "evaluation budget exceeded"


def test_non_json_output_is_an_input_error():
    assert run(["true"], float("nan")).label == "input_error"
    assert run(["true"], {1, 2}).label == "input_error"


# --- create-time validation -----------------------------------------------------------------------


def spec(config: Any) -> str:
    return json.dumps({"name": "structured_assertions", "config": config})


def test_create_time_rejects_what_run_time_would():
    with pytest.raises(Invalid, match="structured_assertions needs config"):
        parse_scorer_spec("structured_assertions")
    cases = [
        ({"assertions": [{"expr": "true || unknown(output)"}]}, r"config.assertions\[0\].expr: unknown function"),
        ({"assertions": [{"expr": "true"}, {"expr": "size("}]}, r"config.assertions\[1\].expr"),
        ({"assertions": [{"expr": "true"}] * 65}, "config.assertions must be an array of 1..64"),
        ({"assertions": [{"expr": "true"}], "score_threshold": 2}, "config.score_threshold"),
        ({"assertions": [{"name": "x", "expr": "true"}] * 2}, r"config.assertions\[1\].name: duplicate"),
    ]
    for config, pattern in cases:
        with pytest.raises(Invalid, match=f"structured_assertions: {pattern}"):
            parse_scorer_spec(spec(config))
    accepted = parse_scorer_spec(spec({"assertions": [{"name": "ok", "expr": "is_array(output)"}]}))
    assert accepted["config"]["assertions"][0]["name"] == "ok"


def test_compile_config_returns_the_trees():
    compiled = compile_config({"assertions": [{"expr": "is_null(output)"}], "score_threshold": 0})
    assert not isinstance(compiled, str)
    assert compiled.threshold == 0.0
    assert compiled.assertions[0].tree == Call("is_null", (Path(("output",)),))
    assert compile_config([]) == "config must be an object"


# --- property: malformed expressions never raise and never pass -----------------------------------

ALPHABET = ["(", ")", "!", ".", "x", "0", ",", '"', "[", "é", "💡", "&&"]  # the reference's own fuzz alphabet


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(ALPHABET), min_size=1, max_size=32))
def test_random_token_soup_never_raises_and_never_passes(tokens):
    result = run(["".join(tokens)], output=None)
    assert result.passed is False
    assert result.label in ("config_error", "input_error", "fail")
