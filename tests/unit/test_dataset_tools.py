"""Pure dataset rules: duplicates, version comparison, CSV rows, and the log order of draft deletions."""

from __future__ import annotations

import pytest

from agnt5_evals.domain.csv_import import CsvMapping, parse_csv
from agnt5_evals.domain.dataset_tools import check_removable, compare_versions, duplicate_groups
from agnt5_evals.domain.errors import Invalid
from agnt5_evals.projections.handlers import CLEAR_DRAFT, COUNT_DRAFT, INSERT_DATASET, INSERT_DRAFT_ITEM, batched


def item(item_id: str, input_: object, expected: object = None, **rest: object) -> dict:
    return {"id": item_id, "input": input_, "expected_output": expected, "metadata": {}, "events": [], "split": None,
            **rest}  # fmt: skip


def test_a_duplicate_is_equal_canonical_json_of_input_and_expected_output():
    same = {"x": 1, "y": 2}
    items = [item("a", same, "E"), item("b", {"y": 2, "x": 1}, "E", metadata={"m": 1}, split="t"),
             item("c", same, "F"), item("d", 1), item("e", 1.0), item("f", same, "E")]  # fmt: skip
    assert [[i["id"] for i in group] for group in duplicate_groups(items)] == [["a", "b", "f"]]


def test_a_targeted_removal_must_leave_one_copy_of_each_group():
    groups = duplicate_groups([item("a", 1), item("b", 1), item("c", 2)])
    check_removable(["a"], groups, {"a", "b", "c"})
    with pytest.raises(Invalid, match="every copy"):
        check_removable(["a", "b"], groups, {"a", "b", "c"})
    with pytest.raises(Invalid, match="no duplicate"):
        check_removable(["c"], groups, {"a", "b", "c"})


def test_compare_pairs_items_by_id_and_names_changed_fields():
    base = [item("a", 1), item("b", 2), item("c", 3)]
    other = [item("c", 3, split="x", events=[{}]), item("b", 2), item("d", 4)]
    result = compare_versions(base, other)
    assert result == {"added": [{"id": "d"}], "removed": [{"id": "a"}], "unchanged": 1,
                      "changed": [{"id": "c", "fields": ["events", "split"]}]}  # fmt: skip


def test_csv_cells_parse_as_json_when_they_parse_else_stay_strings():
    text = 'input,expected_output\n42,"""42"""\n{"a",x\n"[1, 2]",null\n'
    result = parse_csv(text, CsvMapping(columns={"expected_output": "expected_output"}))
    assert [(i["input"], i["expected_output"]) for i in result.items] == [(42, "42"), ('{"a"', "x"), ([1, 2], None)]


def test_csv_row_errors_name_the_line_where_the_row_starts():
    text = 'input,meta\n"two\nlines",{}\n1,[]\n'
    result = parse_csv(text, CsvMapping(columns={"metadata": "meta"}))
    assert [str(e) for e in result.errors] == ["line 4: metadata: must be a JSON object"]
    assert result.items[0]["input"] == "two\nlines"


def test_draft_deletions_apply_in_log_order_within_a_batch():
    ops = [(INSERT_DRAFT_ITEM, (1,)), (INSERT_DATASET, (2,)), (CLEAR_DRAFT, (3,)), (INSERT_DRAFT_ITEM, (4,)),
           (COUNT_DRAFT, (5,)), (INSERT_DATASET, (6,))]  # fmt: skip
    assert batched(ops) == [(INSERT_DATASET, [(2,)]), (INSERT_DRAFT_ITEM, [(1,)]), (CLEAR_DRAFT, [(3,)]),
                            (INSERT_DATASET, [(6,)]), (INSERT_DRAFT_ITEM, [(4,)]), (COUNT_DRAFT, [(5,)])]  # fmt: skip


def test_csv_byte_order_mark_large_cells_and_bad_columns():
    with_bom = parse_csv("\ufeffinput,answer\nq1,a1\n", CsvMapping(columns={"expected_output": "answer"}))
    assert [(i["input"], i["expected_output"]) for i in with_bom.items] == [("q1", "a1")]
    no_header = parse_csv("\ufeffq1,a1\n", CsvMapping(columns={"expected_output": "1"}, header=False))
    assert no_header.items[0]["input"] == "q1"
    big = "x" * 300_000  # over the csv module's default cell limit, under the 768 KiB item limit
    assert parse_csv(f"input\n{big}\n", CsvMapping()).items[0]["input"] == big
    with pytest.raises(Invalid, match="names column 'input' 2 times"):
        parse_csv("input,input\n1,2\n", CsvMapping())
    with pytest.raises(Invalid, match="is not a column index"):
        parse_csv("1,2\n", CsvMapping(columns={"expected_output": "\u00b2"}, header=False))
