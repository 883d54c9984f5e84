"""CSV rows to dataset items (``datasets upload-csv``): a column mapping, every bad row named by line and field.

Cells: ``input`` and ``expected_output`` are parsed as JSON when the whole cell is valid JSON (``42`` is a
number, ``{"q": 1}`` an object, ``"42"`` the string 42) and kept as the string otherwise; ``metadata`` must be a
JSON object and ``events`` a JSON array; ``split`` is taken as written; ``tags`` is a JSON array of strings or
else a comma-separated list. The item shape has no field for tags or sources, so ``tags``, ``source_run_id`` and
``source_ref`` go into ``metadata`` under those keys. An empty cell is an absent field (an error for ``input``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from agnt5_evals.domain import jsonio
from agnt5_evals.domain.app_datasets import MAX_ITEM_BYTES, check_item
from agnt5_evals.domain.errors import Invalid

JSON = Any

# item field -> (the input naming its column, default column with a header)
FIELDS = {
    "input": ("input_column", "input"),
    "expected_output": ("expected_output_column", None),
    "split": ("split_column", None),
    "metadata": ("metadata_column", None),
    "events": ("events_column", None),
    "tags": ("tags_column", None),
    "source_run_id": ("source_run_id_column", None),
    "source_ref": ("source_ref_column", None),
}


@dataclass(frozen=True)
class CsvMapping:
    """Which column feeds which item field (by header name, or by zero-based index with ``header=False``)."""

    columns: dict[str, str] = field(default_factory=dict)  # item field -> column, only the fields given
    source_ref: str | None = None
    delimiter: str = ","
    header: bool = True


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


@dataclass
class CsvResult:
    items: list[dict[str, JSON]]
    errors: list[RowError]
    rows: int


class _BadCell(Exception):
    pass


def _loose_json(text: str) -> JSON:
    """A cell's JSON value, else its text; JSON the strict reader refuses (a duplicate key ...) is a bad cell."""
    try:
        return jsonio.loads(text, "cell")
    except jsonio.MalformedJSON:
        return text
    except Invalid as exc:
        raise _BadCell(exc.message) from None


def _strict_json(text: str, kind: type, what: str) -> JSON:
    try:
        value = jsonio.loads(text, "cell")
    except jsonio.MalformedJSON:
        raise _BadCell(f"malformed JSON (must be a JSON {what})") from None
    except Invalid as exc:
        raise _BadCell(exc.message) from None
    if not isinstance(value, kind):
        raise _BadCell(f"must be a JSON {what}")
    return value


def _tags(text: str) -> list[str]:
    value = _loose_json(text)
    if isinstance(value, list) and all(isinstance(tag, str) for tag in value):
        return value
    if isinstance(value, list):
        raise _BadCell("must be a JSON array of strings or a comma-separated list")
    plain = value if isinstance(value, str) else text
    return [tag.strip() for tag in plain.split(",") if tag.strip()]


MAX_CELL_CHARS = 768 * 1024


def _check_mapping(mapping: CsvMapping, header: list[str] | None, width: int) -> dict[str, int]:
    """Resolve each mapped field to a column index; an unknown column is an error naming its flag."""
    if mapping.source_ref is not None and "source_ref" in mapping.columns:
        raise Invalid("give one of them, not both", field="source_ref, source_ref_column")
    wanted = {name: column for name, (_, default) in FIELDS.items() if (column := mapping.columns.get(name, default))}
    if not mapping.header and "input" not in mapping.columns:
        wanted["input"] = "0"
    resolved = {}
    for name, column in wanted.items():
        flag = FIELDS[name][0]
        if header is not None:
            if column not in header:
                raise Invalid(f"no column {column!r} in the header (columns: {', '.join(header)})", field=flag)
            if header.count(column) > 1:
                raise Invalid(f"the header names column {column!r} {header.count(column)} times", field=flag)
            resolved[name] = header.index(column)
        elif not (column.isascii() and column.isdecimal()):
            raise Invalid(f"{column!r} is not a column index (without a header row: 0, 1, ...)", field=flag)
        elif int(column) >= width:
            raise Invalid(f"column {column} does not exist (the first row has {width} columns)", field=flag)
        else:
            resolved[name] = int(column)
    return resolved


def _item(cells: dict[str, str], source_ref: str | None) -> dict[str, JSON]:
    """One row's item; raises ``_BadCell`` (with the field in its args) for the first bad cell."""
    parsers: dict[str, Callable[[str], JSON]] = {
        "input": _loose_json,
        "expected_output": _loose_json,
        "split": str,
        "metadata": lambda text: _strict_json(text, dict, "object"),
        "events": lambda text: _strict_json(text, list, "array"),
        "tags": _tags,
        "source_run_id": str,
        "source_ref": str,
    }
    values: dict[str, JSON] = {}
    for name, text in cells.items():
        if text == "":
            if name == "input":
                raise _BadCell(name, "the input cell is empty")
            continue
        try:
            values[name] = parsers[name](text)
        except _BadCell as exc:
            raise _BadCell(name, str(exc)) from None
    metadata = dict(values.pop("metadata", {}))
    for extra in ("tags", "source_run_id", "source_ref"):
        if extra in values:
            metadata[extra] = values.pop(extra)
    if source_ref is not None:
        metadata["source_ref"] = source_ref
    return {**values, "metadata": metadata}


def parse_csv(text: str, mapping: CsvMapping) -> CsvResult:
    """Every row as an item, or as an error naming its line and field. Malformed CSV fails the whole file."""
    if len(mapping.delimiter) != 1:
        raise Invalid(f"must be one character, got {mapping.delimiter!r}", field="delimiter")
    text = text.removeprefix("\ufeff")  # a byte-order mark (spreadsheets write one) is not part of the first cell
    csv.field_size_limit(max(csv.field_size_limit(), MAX_CELL_CHARS))  # an item may take up to 768 KiB
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=mapping.delimiter, strict=True)
    rows: list[tuple[int, list[str]]] = []
    end = 0
    try:
        for row in reader:  # a row's line is where it starts (a quoted cell may span lines)
            rows.append((end + 1, row))
            end = reader.line_num
    except csv.Error as exc:
        raise Invalid(f"line {reader.line_num}: malformed CSV: {exc}", field="file") from None
    header = rows.pop(0)[1] if mapping.header and rows else None
    rows = [(line, row) for line, row in rows if row]  # blank lines
    if not rows:
        raise Invalid("the CSV holds no data rows", field="file")
    columns = _check_mapping(mapping, header, len(rows[0][1]))
    items, errors = [], []
    for line, row in rows:
        missing = [name for name, index in columns.items() if index >= len(row)]
        if missing:
            errors.append(RowError(line, missing[0], f"the row has only {len(row)} columns"))
            continue
        try:
            item = check_item(_item({name: row[index] for name, index in columns.items()}, mapping.source_ref), "")
        except _BadCell as exc:
            errors.append(RowError(line, exc.args[0], exc.args[1]))
            continue
        if (size := len(orjson.dumps(item))) > MAX_ITEM_BYTES:
            errors.append(RowError(line, "row", f"{size:,} bytes; an item may take at most {MAX_ITEM_BYTES:,}"))
            continue
        items.append(item)
    return CsvResult(items, errors, len(rows))
