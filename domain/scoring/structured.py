"""``structured_assertions``: a bounded boolean expression language over output, input and expected.

Grammar (SDK-core contract, reference §3.5)::

    expr := or;  or := and ("||" and)*;  and := cmp ("&&" cmp)*
    cmp  := atom (("==" | "!=" | "<=" | ">=" | "<" | ">") atom)*
    atom := "!" atom | "(" expr ")" | JSON string | JSON number | true | false | null
          | ident "(" args ")" | root ("." ident)*

The parser is scannerless, like the reference: ``space``/``take``/``ident``/``string``/``number``
are its lexer. Every expression is parsed when the config is checked, so a syntax error is a
``config_error`` at ``experiments create``, never a surprise at run time.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, NoReturn

from agnt5_evals.domain.scoring.base import ScoreResult, ScorerInput, builtin
from agnt5_evals.domain.scoring.structured_eval import (
    MAX_DOCUMENT_BYTES,
    PREDICATES,
    ROOTS,
    Assertion,
    Binary,
    Call,
    Compiled,
    Literal,
    Node,
    Path,
    Unary,
    document_of,
    evaluate,
    failure,
    within_limits,
)

MAX_ASSERTIONS = 64
MAX_OPERATORS = 64
MAX_NESTING = 32
MAX_EXPR_BYTES = 4096
MAX_NAME_BYTES = 256

_SPACE = " \t\r\n\x0b\x0c"
_IDENT = re.compile(r"[A-Za-z0-9_]+")
_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"')
_NUMBER_RUN = re.compile(r"[0-9+\-.eE]*")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_SURROGATE = re.compile("[\ud800-\udfff]")
_KEYWORDS: dict[str, Any] = {"true": True, "false": False, "null": None}
_LEVELS = (("||",), ("&&",), ("==", "!=", "<=", ">=", "<", ">"))


class ParseError(Exception):
    """A malformed expression: the whole scorer config is rejected (``config_error``)."""


class Parser:
    """Recursive-descent parser of one assertion expression, enforcing the 64-operator and 32-atom limits."""

    def __init__(self, text: str) -> None:
        self.text, self.pos, self.depth, self.operations = text, 0, 0, 0

    def parse(self) -> Node:
        """The expression tree of the whole text; trailing text is an error."""
        tree = self.expr(0)
        self.space()
        if self.pos != len(self.text):
            self.fail("unexpected expression suffix")
        return tree

    def fail(self, message: str, at: int | None = None) -> NoReturn:
        """Raise a ParseError at an offset (characters into the expression)."""
        raise ParseError(f"{message} at offset {self.pos if at is None else at}")

    def space(self) -> None:
        """Skip whitespace: space, tab, CR, LF, VT, FF."""
        while self.pos < len(self.text) and self.text[self.pos] in _SPACE:
            self.pos += 1

    def take(self, token: str) -> bool:
        """Consume ``token`` after whitespace if it comes next."""
        self.space()
        if self.text.startswith(token, self.pos):
            self.pos += len(token)
            return True
        return False

    def ident(self) -> str:
        """Consume an identifier ``[A-Za-z0-9_]+``."""
        self.space()
        match = _IDENT.match(self.text, self.pos)
        if match is None:
            self.fail("expected identifier")
        self.pos = match.end()
        return match.group()

    def expr(self, level: int) -> Node:
        """Parse one precedence level (0 ``||``, 1 ``&&``, 2 comparisons, 3 atoms), left-associative."""
        if level == len(_LEVELS):
            return self.atom()
        left = self.expr(level + 1)
        while (op := next((op for op in _LEVELS[level] if self.take(op)), None)) is not None:
            self.operations += 1
            if self.operations > MAX_OPERATORS:
                self.fail(f"expression exceeds {MAX_OPERATORS} operators")
            left = Binary(op, left, self.expr(level + 1))
        return left

    def atom(self) -> Node:
        """Parse an atom; each one counts towards the nesting limit."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            self.fail(f"expression nesting exceeds {MAX_NESTING}")
        node = self.atom_inner()
        self.depth -= 1
        return node

    def atom_inner(self) -> Node:
        if self.take("!"):
            return Unary(self.atom())
        if self.take("("):
            node = self.expr(0)
            if not self.take(")"):
                self.fail("expected closing parenthesis")
            return node
        self.space()
        if self.text.startswith('"', self.pos):
            return self.string()
        if self.text[self.pos : self.pos + 1] in tuple("-0123456789"):
            return self.number()
        start = self.pos
        name = self.ident()
        if name in _KEYWORDS:
            return Literal(_KEYWORDS[name])
        if self.take("("):
            return self.call(name, start)
        return self.path(name, start)

    def string(self) -> Literal:
        """A JSON string literal (no lone surrogates, as serde_json)."""
        match = _STRING.match(self.text, self.pos)
        value = json.loads(match.group()) if match else None
        if match is None or _SURROGATE.search(value or ""):
            self.fail("invalid JSON literal")
        self.pos = match.end()
        return Literal(value)

    def number(self) -> Literal:
        """A JSON number: the reference takes the run of ``[0-9+-.eE]`` and parses it as JSON."""
        run = _NUMBER_RUN.match(self.text, self.pos)
        token = run.group() if run else ""
        if not _JSON_NUMBER.fullmatch(token):
            self.fail("invalid JSON literal")
        value: int | float = float(token) if any(c in token for c in ".eE") else int(token)
        if math.isinf(value) if isinstance(value, float) else abs(value) >= 2**1024:  # serde: "out of range"
            self.fail("invalid JSON literal")
        self.pos += len(token)
        return Literal(value)

    def call(self, name: str, start: int) -> Call:
        """A function call: known name, exact arity, a bare type predicate for all/any."""
        args: list[Node] = []
        if not self.take(")"):
            while True:
                args.append(self.expr(0))
                if self.take(")"):
                    break
                if not self.take(",") or len(args) > 2:
                    self.fail("invalid arguments")
        arity = 2 if name in ("all", "any") else 1 if name in PREDICATES | {"size", "unique"} else 0
        if arity == 0:
            self.fail(f"unknown function {name!r}", start)
        if len(args) != arity:
            self.fail(f"wrong argument count for {name} (takes {arity}, got {len(args)})", start)
        if arity == 2 and not _bare_predicate(args[1]):
            self.fail(f"all/any require a type predicate ({', '.join(sorted(PREDICATES))})", start)
        return Call(name, tuple(args))

    def path(self, name: str, start: int) -> Path:
        """A root followed by ``.field`` segments (a bare predicate name is accepted, as the reference)."""
        parts = [name]
        while self.take("."):
            parts.append(self.ident())
        if name not in ROOTS and not (len(parts) == 1 and name in PREDICATES):
            self.fail(f"unknown root {name!r} (roots: {', '.join(sorted(ROOTS))})", start)
        return Path(tuple(parts))


def _bare_predicate(node: Node) -> bool:
    return isinstance(node, Path) and len(node.parts) == 1 and node.parts[0] in PREDICATES


def parse_expression(text: str) -> Node:
    """Parse one assertion expression; raises :class:`ParseError` naming the problem and offset."""
    return Parser(text).parse()


def _byte_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _threshold(config: dict[str, Any]) -> float | str:
    value = config.get("score_threshold", 1.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        return "config.score_threshold must be a number between 0 and 1"
    return float(value)


def _assertion(index: int, item: Any, names: set[str]) -> Assertion | str:
    field = f"config.assertions[{index}]"
    if not isinstance(item, dict):
        return f"{field} must be an object {{name?, expr}}"
    name = item.get("name", f"assertion_{index + 1}")
    if not isinstance(name, str) or not 1 <= _byte_len(name) <= MAX_NAME_BYTES:
        return f"{field}.name must be a string of 1..{MAX_NAME_BYTES} bytes"
    if name in names:
        return f"{field}.name: duplicate assertion name {name!r}"
    names.add(name)
    expr = item.get("expr")
    if not isinstance(expr, str) or not 1 <= _byte_len(expr) <= MAX_EXPR_BYTES:
        return f"{field}.expr must be a string of 1..{MAX_EXPR_BYTES} bytes"
    try:
        return Assertion(name, expr, parse_expression(expr))
    except ParseError as exc:
        return f"{field}.expr: {exc}"


def compile_config(config: Any) -> Compiled | str:
    """Check the config and parse every expression, or return what is wrong (without the scorer name)."""
    if not isinstance(config, dict):
        return "config must be an object"
    raw = config.get("assertions")
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_ASSERTIONS:
        return f"config.assertions must be an array of 1..{MAX_ASSERTIONS} assertions {{name?, expr}}"
    threshold = _threshold(config)
    if isinstance(threshold, str):
        return threshold
    names: set[str] = set()
    assertions = []
    for index, item in enumerate(raw):
        assertion = _assertion(index, item, names)
        if isinstance(assertion, str):
            return assertion
        assertions.append(assertion)
    return Compiled(tuple(assertions), threshold)


def _check(config: dict[str, Any]) -> str | None:
    compiled = compile_config(config)
    return f"structured_assertions: {compiled}" if isinstance(compiled, str) else None


@builtin(
    "structured_assertions",
    kind="output",
    description="Fraction of boolean assertions (bounded expression language) that hold over output/input/expected.",
    requires_config=True,
    check_config=_check,
    config_schema={
        "assertions": "1..64 objects {name?, expr} (required)",
        "score_threshold": "number in [0, 1] (default 1.0)",
    },
)
def structured_assertions(inp: ScorerInput) -> ScoreResult:
    """Score = assertions true / assertions; ``pass`` when score >= score_threshold.

    An input error (missing field, unsafe number, wrong type, budget, limits) stops evaluation:
    score 0, label ``input_error``, metadata lists the assertions evaluated so far.
    """
    prepared = document_of(inp)
    if isinstance(prepared, str):
        return failure("input_error", prepared)
    document, size = prepared
    if not within_limits(document):
        return failure("input_error", "JSON structure exceeds limits")
    compiled = compile_config(document["config"])
    if isinstance(compiled, str):
        return failure("config_error", f"structured_assertions: {compiled}")
    if size > MAX_DOCUMENT_BYTES:
        return failure("input_error", "input exceeds 1 MiB")
    return evaluate(compiled, document)
