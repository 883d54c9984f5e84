"""Domain errors are neutral to the edge: a message without flags, the field at fault, a code; one exit-code table."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from agnt5_evals.domain.errors import EXIT_CODES, Conflict, EvalsError, Invalid, NotFound, Unavailable, exit_codes_text
from agnt5_evals.domain.gates import check_config
from agnt5_evals.domain.ids import parse_uuid
from agnt5_evals.domain.scoring import parse_scorer_spec

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("domain", "services", "adapters", "worker", "projections")
ERRORS = {"Invalid", "NotFound", "Conflict", "Unavailable", "EvalsError"}
FLAG = re.compile(r"(?:^|[\s(,'\"])--[a-z]")  # a command-line flag: --name, (--module ...
ARGUMENT = re.compile(r"^[A-Z][A-Z_]{2,}:")  # a command-line argument's metavar: RUN_ID: ...

# Invalid raised without a field, on purpose: the input at fault is the whole request, not one field.
NO_FIELD: set[tuple[str, str]] = set()


def _raises() -> list[tuple[str, int, str, ast.Call]]:
    found = []
    for layer in LAYERS:
        for path in sorted((ROOT / layer).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ERRORS:
                    found.append((str(path.relative_to(ROOT)), node.lineno, node.func.id, node))
    return found


def _literal_text(node: ast.expr) -> str:
    """The literal parts of a message (an f-string's placeholders become ``{}``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return ""


RAISES = _raises()


def test_the_scan_sees_the_raise_sites():
    assert len(RAISES) > 100  # the test fails if it stops looking (a moved folder, a renamed class)


@pytest.mark.parametrize(("path", "line", "cls", "call"), RAISES, ids=[f"{p}:{n}" for p, n, _, _ in RAISES])
def test_no_message_names_a_flag(path, line, cls, call):
    message = _literal_text(call.args[0]) if call.args else ""
    assert not FLAG.search(message), f"{path}:{line}: {cls} message names a flag: {message!r}"
    assert not ARGUMENT.match(message), f"{path}:{line}: {cls} message starts with an argument name: {message!r}"
    for keyword in call.keywords:
        if keyword.arg == "field" and isinstance(keyword.value, ast.Constant):
            assert not str(keyword.value.value).startswith("-"), f"{path}:{line}: field is a flag"


@pytest.mark.parametrize(
    ("path", "line", "call"),
    [(p, n, c) for p, n, cls, c in RAISES if cls == "Invalid"],
    ids=[f"{p}:{n}" for p, n, cls, _ in RAISES if cls == "Invalid"],
)
def test_every_invalid_names_its_field(path, line, call):
    message = _literal_text(call.args[0]) if call.args else ""
    if (path, message) in NO_FIELD:
        return
    assert any(k.arg == "field" for k in call.keywords), f"{path}:{line}: Invalid({message!r}) passes no field"


def test_an_error_carries_message_code_and_field():
    exc = Invalid("must not be empty", field="name")
    assert (exc.message, exc.code, exc.field) == ("must not be empty", "invalid", "name")
    assert str(exc) == "name: must not be empty"
    assert exc.as_dict() == {"message": "must not be empty", "code": "invalid", "field": "name"}
    assert str(NotFound("run x not found")) == "run x not found"  # positional message, no field: as before
    codes = {cls: cls("m").code for cls in (NotFound, Conflict, Invalid, Unavailable)}
    assert codes == {NotFound: "not_found", Conflict: "conflict", Invalid: "invalid", Unavailable: "unavailable"}
    assert all(issubclass(cls, EvalsError) for cls in codes)


def test_domain_checks_name_the_field_in_the_services_vocabulary():
    with pytest.raises(Invalid) as bad_threshold:
        check_config({"passed_threshold": 2})
    assert bad_threshold.value.field == "config.passed_threshold"
    assert bad_threshold.value.message == "passed_threshold must be a number between 0 and 1, got 2"
    with pytest.raises(Invalid) as bad_scorer:
        parse_scorer_spec('{"name": "tool_called", "config": {}}', "scorers[1]")
    assert bad_scorer.value.field == "scorers[1].config"
    with pytest.raises(Invalid) as unknown:
        parse_scorer_spec("nope", "scorers[0]")
    assert unknown.value.field == "scorers[0].name" and unknown.value.message.startswith("unknown scorer 'nope'")
    with pytest.raises(Invalid) as bad_id:
        parse_uuid("x", "dataset_version_id")
    assert (bad_id.value.field, bad_id.value.message) == (
        "dataset_version_id",
        "'x' is not a valid id (expected a UUID)",
    )


def test_the_exit_code_table_keeps_its_documented_meaning():
    assert EXIT_CODES == {
        0: "ok / gate passed",
        1: "usage or input error",
        2: "gate failed",
        3: "run failed or cancelled",
        4: "wait timed out (or no verdict yet)",
        5: "audit found a problem (audit verify, audit check)",
    }
    assert exit_codes_text() == (
        "Exit codes: 0 ok / gate passed, 1 usage or input error, 2 gate failed, 3 run failed or cancelled, "
        "4 wait timed out (or no verdict yet), 5 audit found a problem (audit verify, audit check)."
    )
