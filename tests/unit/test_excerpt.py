"""One-line excerpts of values in tables: cut with an ellipsis, line breaks visible, JSON compact."""

from __future__ import annotations

from agnt5_evals.domain.reports import excerpt


def test_a_short_string_is_itself_and_none_is_empty() -> None:
    assert excerpt("Brasilia") == "Brasilia"
    assert excerpt(None) == ""


def test_structured_values_are_compact_json() -> None:
    assert excerpt({"question": "Capital of Brazil?", "n": [1, 2]}) == '{"question":"Capital of Brazil?","n":[1,2]}'


def test_a_long_value_is_cut_to_the_width_with_an_ellipsis() -> None:
    cut = excerpt("x" * 500, 40)
    assert len(cut) == 40 and cut.endswith("…")


def test_line_breaks_and_tabs_stay_on_one_line() -> None:
    assert excerpt("first\nsecond\r\nthird\tend") == "first\\nsecond\\nthird end"
