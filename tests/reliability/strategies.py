"""Hypothesis strategies of the fuzz tests: JSON values the log keeps exactly, items, and defects that must be
refused (each as the text of one JSONL line or JSON value)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

INT_MIN, INT_MAX = -(2**63), 2**64 - 1

# Unicode text without lone surrogates (those are refused, see DEFECTS): astral, combining, RTL, NUL, controls.
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=16)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(INT_MIN, INT_MAX)
    | st.sampled_from([INT_MIN, INT_MAX, 2**53 + 1, -(2**53) - 1, 0])
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4), max_leaves=16
)
objects = st.dictionaries(text, values, max_size=4)
# Item ids and splits are stored as they are: any text but empty, and without control characters (see DEFECTS).
labels = st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=16)


@st.composite
def items(draw: st.DrawFn, item_id: str | None = None) -> dict[str, Any]:
    """One valid dataset item, with any of the optional fields."""
    item: dict[str, Any] = {"input": draw(values)}
    if draw(st.booleans()):
        item["expected_output"] = draw(values)
    if draw(st.booleans()):
        item["metadata"] = draw(objects)
    if draw(st.booleans()):
        item["events"] = draw(st.lists(objects, max_size=3))
    if draw(st.booleans()):
        item["split"] = draw(st.none() | st.sampled_from(["train", "test"]) | labels)
    if item_id is not None:
        item["id"] = item_id
    return item


item_lists = st.lists(st.none() | labels, min_size=1, max_size=6, unique_by=lambda i: i or object()).flatmap(
    lambda ids: st.tuples(*(items(i) for i in ids)).map(list)
)


def dumps(value: Any, ascii_only: bool) -> str:
    """JSON text of a value, with non-ASCII characters written raw or as escapes."""
    return json.dumps(value, ensure_ascii=ascii_only)


# A defect spliced into an otherwise valid upload: (name, JSON text of one item, what the error says).
DEFECTS: list[tuple[str, str, str]] = [
    ("duplicate key", '{"input": 1, "metadata": {"k": 1, "k": 2}}', "the key 'k' appears twice"),
    ("duplicate field", '{"input": 1, "input": 2}', "the key 'input' appears twice"),
    ("65-bit integer", f'{{"input": {{"n": {2**64}}}}}', "outside 64 bits"),
    ("negative 65-bit integer", f'{{"input": [{-(2**63) - 1}]}}', "outside 64 bits"),
    ("NaN", '{"input": 1, "expected_output": NaN}', "NaN is not JSON"),
    ("Infinity", '{"input": -Infinity}', "-Infinity is not JSON"),
    ("overflowing float", '{"input": 1e400}', "too large"),
    ("lone surrogate", '{"input": "a\\udfffb"}', "lone surrogate"),
    ("lone surrogate key", '{"input": {"\\ud800": 1}}', "lone surrogate"),
    ("numeric id", '{"id": 5, "input": 1}', "field 'id' must be a string"),
    ("not an object", "[1, 2]", "an item must be a JSON object"),
    ("no input", '{"expected_output": 1}', "field 'input' is required"),
    ("unknown field", '{"input": 1, "inptu": 2}', "unknown field 'inptu'"),
    ("metadata not an object", '{"input": 1, "metadata": [1]}', "field 'metadata' must be an object"),
    ("malformed", '{"input": 1', "malformed JSON"),
    ("empty id", '{"id": "", "input": 1}', "field 'id' must not be empty"),
    ("NUL in an id", '{"id": "a\\u0000b", "input": 1}', "field 'id' must not contain control characters"),
    ("escape in a split", '{"split": "\\u001b[31m", "input": 1}', "field 'split' must not contain control"),
]
