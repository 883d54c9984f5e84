"""The structured_assertions evaluator: AST, JSON limits, deep equality, step budget and the run loop.

Semantics follow the SDK-core contract (Rust ``agnt5_eval_scorers``; its Go port agrees): every
node evaluated costs one step, every pair compared by ``==`` / ``unique`` costs steps too, and any
violation raises :class:`EvalError`, which the scorer turns into an ``input_error``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from agnt5_evals.domain.scoring.base import ScoreResult, ScorerInput
from agnt5_evals.domain.scoring.dialects import parse_json_text

MAX_SAFE = 2**53 - 1
MAX_DEPTH = 64
MAX_NODES = 100_000
MAX_ARRAY = 4096
STEP_BUDGET = 100_000
MAX_DOCUMENT_BYTES = 1_048_576
PREDICATES = frozenset({"is_array", "is_object", "is_string", "is_number", "is_boolean", "is_null"})
ROOTS = frozenset({"input", "output", "expected", "input_json", "output_json", "expected_json"})


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Path:
    parts: tuple[str, ...]


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Unary:
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


Node = Literal | Path | Call | Unary | Binary


class EvalError(Exception):
    """An input error: evaluation stops and the scorer answers ``input_error`` with this message."""


def kind(value: Any) -> str:
    """The JSON type of a value: null, boolean, number, string, array or object."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def check(predicate: str, value: Any) -> bool:
    """Apply a type predicate (``is_array`` ...) to a value."""
    return predicate == f"is_{kind(value)}"


def within_limits(value: Any) -> bool:
    """True when no node is deeper than 64 levels and there are at most 100,000 nodes."""
    pending, nodes = [(value, 0)], 0
    while pending:
        item, depth = pending.pop()
        nodes += 1
        if depth > MAX_DEPTH or nodes > MAX_NODES:
            return False
        if isinstance(item, dict | list):
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return True


def number(value: Any) -> float:
    """A safe number (finite, |n| <= 2^53 - 1) as a float, else an input error."""
    if kind(value) != "number" or (isinstance(value, float) and not math.isfinite(value)) or abs(value) > MAX_SAFE:
        raise EvalError("expected a safe finite number")
    return float(value)


def boolean(value: Any) -> bool:
    """A boolean operand, else an input error."""
    if not isinstance(value, bool):
        raise EvalError("expected boolean")
    return value


class Evaluator:
    """Evaluates parsed assertions over one evaluation document, sharing one step budget."""

    def __init__(self, document: dict[str, Any], budget: int = STEP_BUDGET) -> None:
        self.document = document
        self.budget = budget

    def spend(self) -> None:
        """Take one step from the budget; an exhausted budget is an input error."""
        if self.budget <= 0:
            raise EvalError("evaluation budget exceeded")
        self.budget -= 1

    def eval(self, node: Node) -> Any:
        """The JSON value of an expression node."""
        self.spend()
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Path):
            return self.path(node.parts)
        if isinstance(node, Unary):
            return not boolean(self.eval(node.operand))
        if isinstance(node, Binary):
            return self.binary(node)
        return self.call(node)

    def path(self, parts: tuple[str, ...]) -> Any:
        """Look a path up; ``*_json`` roots decode a string; a missing key is an input error."""
        root = parts[0]
        value = self.document.get(root.removesuffix("_json"))
        if root.endswith("_json") and isinstance(value, str):
            value, problem = parse_json_text(value)
            if problem:
                raise EvalError("invalid encoded JSON")
            if not within_limits(value):
                raise EvalError("JSON structure exceeds limits")
        for key in parts[1:]:
            if not isinstance(value, dict) or key not in value:
                raise EvalError("missing input field")
            value = value[key]
        return value

    def binary(self, node: Binary) -> bool:
        """``&&``/``||`` short-circuit on booleans; ``==``/``!=`` deep; ``<`` etc. on safe numbers."""
        left = self.eval(node.left)
        if node.op in ("&&", "||"):
            decided = boolean(left)
            if decided is (node.op == "||"):
                return decided
            return boolean(self.eval(node.right))
        right = self.eval(node.right)
        if node.op in ("==", "!="):
            return self.equal(left, right) is (node.op == "==")
        a, b = number(left), number(right)
        return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[node.op]

    def equal(self, a: Any, b: Any) -> bool:
        """Deep equality; numbers compare numerically (``1 == 1.0``) and must be safe."""
        self.spend()
        kinds = kind(a), kind(b)
        if kinds == ("number", "number"):
            return number(a) == number(b)
        if kinds[0] != kinds[1]:
            return False
        if kinds[0] == "array":
            return len(a) == len(b) and all(self.equal(x, y) for x, y in zip(a, b, strict=True))
        if kinds[0] == "object":
            return len(a) == len(b) and all(key in b and self.equal(a[key], b[key]) for key in sorted(a))
        return bool(a == b)

    def call(self, node: Call) -> Any:
        """Apply a function: type predicates, size, unique, all, any."""
        value = self.eval(node.args[0])
        if node.name in PREDICATES:
            return check(node.name, value)
        if node.name == "size":
            if isinstance(value, list | dict | str):
                return len(value)  # a Python str's length is its count of code points
            raise EvalError("size requires array, object, or string")
        if not isinstance(value, list):
            raise EvalError("function requires array")
        if len(value) > MAX_ARRAY:
            raise EvalError("array exceeds 4096 elements")
        if node.name == "unique":
            return self.unique(value)
        predicate = node.args[1]
        assert isinstance(predicate, Path)  # the parser only accepts a bare type predicate here
        verdicts = (check(predicate.parts[0], item) for item in value)
        return all(verdicts) if node.name == "all" else any(verdicts)

    def unique(self, items: list[Any]) -> bool:
        """No two elements equal under ``==``; one step per pair compared, as the reference."""
        for i, a in enumerate(items):
            for j in range(i):
                self.spend()
                if self.equal(a, items[j]):
                    return False
        return True


@dataclass(frozen=True)
class Assertion:
    name: str
    expr: str
    tree: Node


@dataclass(frozen=True)
class Compiled:
    assertions: tuple[Assertion, ...]
    threshold: float


def failure(label: str, message: str, results: list[dict[str, Any]] | None = None) -> ScoreResult:
    """A zero score with the given label; metadata lists the assertions evaluated so far."""
    return ScoreResult(0.0, False, label, message, {"assertions": results or []})


def document_of(inp: ScorerInput) -> tuple[dict[str, Any], int] | str:
    """The evaluation document as plain JSON values, and its size in bytes as compact JSON."""
    raw = {"output": inp.output, "input": inp.input, "expected": inp.expected_output, "config": inp.config}
    try:
        text = json.dumps(raw, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return json.loads(text), len(text.encode("utf-8", "surrogatepass"))
    except RecursionError:
        return "JSON structure exceeds limits"
    except (TypeError, ValueError) as exc:
        return f"input is not JSON: {exc}"


def evaluate(compiled: Compiled, document: dict[str, Any]) -> ScoreResult:
    """Evaluate every assertion in order; the first input error stops evaluation."""
    evaluator = Evaluator(document)
    results: list[dict[str, Any]] = []
    for assertion in compiled.assertions:
        result: dict[str, Any] = {"name": assertion.name, "expr": assertion.expr, "passed": False}
        results.append(result)
        try:
            result["passed"] = boolean(evaluator.eval(assertion.tree))
        except EvalError as exc:
            result["error"] = str(exc)
            return failure("input_error", str(exc), results)
    passed = sum(1 for result in results if result["passed"])
    score = passed / len(results)
    ok = score >= compiled.threshold
    return ScoreResult(
        score,
        ok,
        "pass" if ok else "fail",
        f"{passed}/{len(results)} assertions passed",
        {"assertions": results},
        evidence={"score_threshold": compiled.threshold, "steps_left": evaluator.budget},
    )
