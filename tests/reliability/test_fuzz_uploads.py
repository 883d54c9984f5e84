"""Fuzzed uploads (issue 9): JSONL through the CLI, item bodies through REST, CSV through the CLI.

Property: a valid upload is accepted and its items read back exactly as given (from the log and from the read
model: 64-bit integers, floats, any Unicode, nesting); an upload holding one defect is refused whole with a clear
error (exit 1 and ``error: ...`` naming the line / a 4xx problem body with ``field``), never a crash, and the log
has no new event. Hypothesis settings: ``fuzz_settings`` in conftest.py (``AGNT5_RELIABILITY_LONG=1``: long).
"""

from __future__ import annotations

import csv
import io
from typing import Any
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from agnt5_evals.domain import jsonio
from agnt5_evals.domain.model import Dataset
from agnt5_evals.projections import queries
from tests.reliability.conftest import fuzz_settings, problem
from tests.reliability.strategies import DEFECTS, dumps, item_lists, labels, text, values

defects = st.none() | st.tuples(st.sampled_from(DEFECTS), st.integers(0, 6))


def head(services: Any) -> int:
    return services.app.recorder.max_notification_id() or 0


def expected(item: dict[str, Any]) -> dict[str, Any]:
    """An item as the draft holds it: absent optional fields at their defaults, nothing else changed."""
    return {"input": item["input"], "expected_output": item.get("expected_output"),
            "metadata": item.get("metadata") or {}, "events": item.get("events") or [],
            "split": item.get("split")}  # fmt: skip


def assert_reads_back(services: Any, dataset_id: UUID, given_items: list[dict[str, Any]]) -> None:
    """The draft, from the log and from the read model, is exactly the items given (ids kept when given)."""
    logged = services.app.draft_items(services.app.get(Dataset, dataset_id, "dataset"))
    services.catch_up()
    viewed = queries.draft_items(services.view, str(dataset_id))
    assert [{k: v for k, v in i.items() if k != "id"} for i in logged] == [expected(i) for i in given_items]
    assert [{k: row[k] for k in ("input", "expected_output", "metadata", "events", "split")} for row in viewed] == [
        expected(i) for i in given_items
    ]
    for item, log_item, row in zip(given_items, logged, viewed, strict=True):
        assert log_item["id"] == row["item_id"] and log_item["id"] == item.get("id", log_item["id"])


def splice(lines: list[str], defect: tuple[tuple[str, str, str], int] | None) -> tuple[list[str], int | None]:
    """The lines with the defect's line inserted; the defect's 1-based line number (None: no defect)."""
    if defect is None:
        return lines, None
    (_, line, _), at = defect
    at = min(at, len(lines))
    return [*lines[:at], line, *lines[at:]], at + 1


def assert_clean_exit(result: Any) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (0, 1) and "Traceback" not in result.stdout + result.stderr


@fuzz_settings(20)
@given(items=item_lists, defect=defects, ascii_only=st.booleans(), blank_lines=st.booleans())
def test_a_jsonl_upload_reads_back_exactly_or_is_refused_whole(services, agnt5, items, defect, ascii_only,
                                                               blank_lines):  # fmt: skip
    dataset_id = services.app.create_dataset("fuzz-jsonl").id
    lines, bad_line = splice([dumps(item, ascii_only) for item in items], defect)
    separator = "\n\n" if blank_lines else "\n"
    before = head(services)
    result = agnt5("datasets", "upload", str(dataset_id), input=separator.join(lines) + "\n", code=None)
    assert_clean_exit(result)
    if defect is None:
        assert result.exit_code == 0, result.stderr
        assert_reads_back(services, dataset_id, items)
        return
    (_, _, message), _ = defect
    assert result.exit_code == 1 and result.stderr.startswith("error: --file: "), result.stderr
    line = 2 * bad_line - 1 if blank_lines else bad_line  # type: ignore[operator]
    assert message in result.stderr and (f"line {line}: " in result.stderr or "item " in result.stderr)
    assert head(services) == before  # refused: nothing written
    assert services.app.get(Dataset, dataset_id, "dataset").draft_size == 0


@fuzz_settings(20)
@given(items=item_lists, defect=defects, ascii_only=st.booleans())
def test_a_rest_items_body_reads_back_exactly_or_is_refused_with_a_field(services, client, items, defect,
                                                                         ascii_only):  # fmt: skip
    dataset_id = services.app.create_dataset("fuzz-rest").id
    parts, _ = splice([dumps(item, ascii_only) for item in items], defect)
    before = head(services)
    response = client.post(f"/api/v1/datasets/{dataset_id}/items", content=f'{{"items": [{", ".join(parts)}]}}',
                           headers={"content-type": "application/json"})  # fmt: skip
    if defect is None:
        assert response.status_code == 201, response.text
        assert response.json()["added"] == len(items)
        assert_reads_back(services, dataset_id, items)
        return
    (_, _, message), _ = defect
    refused = problem(response)
    assert refused["field"] and (message in refused["message"] or refused["field"].startswith("items"))
    assert head(services) == before


# A CSV cell: any text (kept as text unless the whole cell is JSON) or a JSON value written as its text.
cells = text.filter(bool) | values.map(lambda v: dumps(v, ascii_only=False))


def cell_value(cell: str) -> Any:
    """What the import keeps for an input / expected_output cell (domain/csv_import.py: JSON if the whole cell
    is JSON, else the text)."""
    try:
        return jsonio.loads(cell, "cell")
    except jsonio.MalformedJSON:
        return cell


@fuzz_settings(12)
@given(
    rows=st.lists(st.tuples(cells, st.none() | cells, st.none() | labels),
                  min_size=1, max_size=5),
    bad_row=st.none() | st.tuples(st.sampled_from(['{"a": 1, "a": 2}', f"[{2**64}]", "", "[NaN]"]), st.integers(0, 5)),
    delimiter=st.sampled_from([",", ";", "\t"]),
)  # fmt: skip
def test_a_csv_upload_reads_back_exactly_or_is_refused_whole(services, agnt5, rows, bad_row, delimiter):
    dataset_id = services.app.create_dataset("fuzz-csv").id
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")  # a cell's bare \r is quoted too
    writer.writerow(["input", "expected", "split"])
    table = [[inp, exp or "", split or ""] for inp, exp, split in rows]
    if bad_row is not None:
        bad, at = bad_row
        table.insert(min(at, len(table)), [bad, "", ""])
    writer.writerows(table)
    before = head(services)
    result = agnt5("datasets", "upload-csv", str(dataset_id), "--expected-output-column", "expected",
                   "--split-column", "split", "--delimiter", delimiter, "--no-partial", input=out.getvalue(),
                   code=None)  # fmt: skip
    assert_clean_exit(result)
    if bad_row is None:
        assert result.exit_code == 0, result.stderr
        given_items = []
        for inp, exp, split in rows:
            item = {"input": cell_value(inp)} | ({"expected_output": cell_value(exp)} if exp else {})
            given_items.append(item | ({"split": split} if split else {}))
        assert_reads_back(services, dataset_id, given_items)
        return
    assert (
        result.exit_code == 1
        and result.stderr.startswith("error: --file: ")
        and "nothing was imported" in result.stderr
    )
    assert head(services) == before


def test_a_quoted_carriage_return_in_a_csv_cell_is_kept(services, agnt5, tmp_path):
    """Found by the fuzz: the CLI read the file with universal newlines, which turned a quoted cell's ``\r`` into
    ``\n`` before the CSV reader saw it (from a file and from stdin)."""
    text = 'input,expected\r\n"a\rb","x\r\ny"\r\n'
    path = tmp_path / "cr.csv"
    path.write_bytes(text.encode())
    for source in ({"args": ("--file", str(path))}, {"args": (), "input": text}):
        dataset_id = services.app.create_dataset("cr").id
        agnt5("datasets", "upload-csv", str(dataset_id), "--expected-output-column", "expected", *source["args"],
              input=source.get("input"))  # fmt: skip
        assert_reads_back(services, dataset_id, [{"input": "a\rb", "expected_output": "x\r\ny"}])


def test_a_jsonl_line_holding_a_raw_unicode_line_separator_is_one_item(services, agnt5):
    """Found by the fuzz: ``str.splitlines`` cut a line at U+0085 / U+2028 / U+2029 (JSON keeps them raw)."""
    dataset_id = services.app.create_dataset("separators").id
    items = [{"input": "a\x85b"}, {"input": {"k\u2028": "\u2029"}, "id": "x\u2028y"}]
    agnt5("datasets", "upload", str(dataset_id), input="\r\n".join(dumps(i, ascii_only=False) for i in items))
    assert_reads_back(services, dataset_id, items)
    cases = agnt5("scorers", "test", "--builtin-scorer", "json_valid", "--cases", "-",
                  input='{"output": "\u2028{}"}\n')  # fmt: skip
    assert len(cases.stdout.strip().splitlines()) == 1


def test_an_empty_item_id_or_a_control_character_in_an_id_or_split_is_refused(services, agnt5):
    """Found by the fuzz: ``"id": ""`` became a generated id; a NUL in an id wedged PostgreSQL's read model."""
    dataset_id = services.app.create_dataset("ids").id
    before = head(services)
    refusals = [
        ('{"id": "", "input": 1}', "item 1: field 'id' must not be empty"),
        ('{"id": "a\\u0000", "input": 1}', "item 1: field 'id' must not contain control characters"),
        ('{"split": "\\u001b[2J", "input": 1}', "field 'split' must not contain control"),
    ]
    for line, message in refusals:
        refused = agnt5("datasets", "upload", str(dataset_id), input=line + "\n", code=1)
        assert message in refused.stderr
    assert head(services) == before
    agnt5("datasets", "upload", str(dataset_id), input='{"id": "ok", "input": 1}\n')
    services.catch_up()
    assert [row["item_id"] for row in queries.draft_items(services.view, str(dataset_id))] == ["ok"]
