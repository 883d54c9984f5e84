"""``agnt5 datasets``: a mutable draft, published as numbered immutable versions."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from agnt5_evals.cli import archiving
from agnt5_evals.cli.common import (
    Format,
    FormatOption,
    emit,
    json_option,
    note,
    print_created,
    read_text,
    uuid_arg,
)
from agnt5_evals.cli.dataset_versions import examples, versions
from agnt5_evals.cli.gateway import gateway
from agnt5_evals.cli.refs import ref
from agnt5_evals.domain import jsonio
from agnt5_evals.domain.csv_import import FIELDS, CsvMapping

app = typer.Typer(help="Create datasets, edit their draft and publish immutable versions.", no_args_is_help=True)
dedup = typer.Typer(help="Find and remove duplicate items in the draft.", no_args_is_help=True)
app.add_typer(versions, name="versions")
app.add_typer(examples, name="examples")
app.add_typer(dedup, name="dedup")

COLUMNS = ["id", "name", "description", "draft_items", "versions", "created_at"]


@app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="Dataset name.")],
    description: Annotated[str, typer.Option("--description")] = "",
    metadata: Annotated[str | None, typer.Option("--metadata", help="JSON object of labels.")] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Create a dataset with an empty draft; prints its id."""
    labels = json_option(metadata, "--metadata")
    with gateway() as gw:
        row = gw.create_dataset(name, description, labels)
    print_created(fmt, row, f"Created dataset {name!r}")


@app.command("list")
def list_(
    search: Annotated[str, typer.Option("--search", help="Only names containing this text.")] = "",
    archived: Annotated[bool, typer.Option("--archived", help="Archived datasets too.")] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """List datasets (not the archived ones, unless --archived)."""
    with gateway() as gw:
        emit(gw.datasets(search, archived), fmt, COLUMNS + (["archived"] if archived else []))


app.command("archive")(archiving.archive_dataset)
app.command("unarchive")(archiving.unarchive_dataset)


@app.command("show")
def show(dataset_id: str, fmt: FormatOption = Format.table) -> None:
    """Show one dataset with its draft size and versions."""
    with gateway() as gw:
        row = gw.dataset(ref(gw, "dataset", dataset_id, "DATASET_ID"))
        row["versions_list"] = gw.dataset_versions(row["id"])
        emit(row, fmt, COLUMNS)


@app.command("add-example")
def add_example(
    dataset_id: str,
    input_: Annotated[str, typer.Option("--input", help="The item's input (JSON).")],
    expected_output: Annotated[str | None, typer.Option("--expected-output", help="Expected output (JSON).")] = None,
    metadata: Annotated[str | None, typer.Option("--metadata", help="JSON object of labels.")] = None,
    split: Annotated[str | None, typer.Option("--split", help="Partition label, e.g. test.")] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Add one hand-written item to the draft; prints the item id."""
    item = {"input": json_option(input_, "--input", object_only=False), "split": split}
    if expected_output is not None:
        item["expected_output"] = json_option(expected_output, "--expected-output", object_only=False)
    if metadata is not None:
        item["metadata"] = json_option(metadata, "--metadata")
    with gateway() as gw:
        did = ref(gw, "dataset", dataset_id, "DATASET_ID")
        row = gw.add_example(did, item)
    print_created(fmt, row, f"Added an item to the draft of {did}")


def read_jsonl(path: str | None) -> list[Any]:
    """Read JSONL items from a file or stdin; a bad line names its number and nothing is written."""
    text = read_text(path, "--file")
    items: list[Any] = []
    for number, line in jsonio.jsonl_lines(text):
        items.append(jsonio.loads(line, f"items[{len(items)}]", number))  # strict: refused, never changed
    return items


@app.command("upload")
def upload(
    dataset_id: str,
    file: Annotated[
        str | None, typer.Option("--file", help="JSONL file, one item per line; - or absent: stdin.")
    ] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Add JSONL items ({input, expected_output?, metadata?, events?, split?}) to the draft, all or none."""
    items = read_jsonl(file)
    with gateway() as gw:
        did = ref(gw, "dataset", dataset_id, "DATASET_ID")
        row = gw.add_items(did, items)
    print_created(fmt, row, f"Added {row['added']} items to the draft of {did}")


@app.command("publish")
def publish(
    dataset_id: str,
    description: Annotated[str, typer.Option("--description", help="A note for this version.")] = "",
    metadata: Annotated[str | None, typer.Option("--metadata", help="JSON object of labels.")] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Snapshot the draft as the next numbered, immutable version; prints the version id."""
    labels = json_option(metadata, "--metadata")
    with gateway() as gw:
        did = ref(gw, "dataset", dataset_id, "DATASET_ID")
        row = gw.publish(did, description, labels)
    print_created(fmt, row, f"Published version {row['number']} of dataset {did} ({row['n_items']} items)")


@app.command("add-run")
def add_run(
    dataset_id: str,
    run_id: str,
    run_item_ids: Annotated[
        list[str] | None, typer.Option("--run-item-id", help="Import only this run item (repeatable).")
    ] = None,
    expected_output: Annotated[
        str | None, typer.Option("--expected-output", help="Expected output of every item (JSON).")
    ] = None,
    metadata: Annotated[str | None, typer.Option("--metadata", help="JSON object added to each item's.")] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Import a finished run's items into the draft: each item's input, and the run's output and trace events.

    Without --expected-output the run's recorded output becomes the expected output; with it, the recorded output
    is kept in metadata as source_output. Metadata also gets source_run_id, source_run_item_id and
    source_dataset_item_id.
    """
    expected = (
        () if expected_output is None else (json_option(expected_output, "--expected-output", object_only=False),)
    )
    labels = json_option(metadata, "--metadata")
    item_ids = [str(uuid_arg(i, "--run-item-id")) for i in run_item_ids or []]
    with gateway() as gw:
        did, rid = ref(gw, "dataset", dataset_id, "DATASET_ID"), ref(gw, "run", run_id, "RUN_ID")
        row = gw.add_run(did, rid, item_ids, expected, labels)
    print_created(fmt, row, f"Added {row['added']} items of run {run_id} to the draft of {dataset_id}")


Column = Annotated[str | None, typer.Option(help="Column name (or zero-based index with --no-header).")]


@app.command("upload-csv")
def upload_csv(
    dataset_id: str,
    file: Annotated[str | None, typer.Option("--file", help="CSV file; - or absent: stdin.")] = None,
    input_column: Annotated[str | None, typer.Option(help="Input column (default: input, or 0).")] = None,
    expected_output_column: Column = None,
    split_column: Column = None,
    metadata_column: Column = None,
    events_column: Column = None,
    tags_column: Column = None,
    source_run_id_column: Column = None,
    source_ref_column: Column = None,
    source_ref: Annotated[str | None, typer.Option(help="One source_ref for every row.")] = None,
    delimiter: Annotated[str, typer.Option(help="Field delimiter (one character).")] = ",",
    no_header: Annotated[bool, typer.Option("--no-header", help="The first row is data; columns by index.")] = False,
    partial: Annotated[
        bool,
        typer.Option(
            "--partial/--no-partial",
            help="Import the valid rows and report the bad ones (--partial=false or --no-partial: all rows or none).",
        ),
    ] = True,
    fmt: FormatOption = Format.table,
) -> None:
    """Add CSV rows to the draft, one item per row, mapping columns to item fields.

    input and expected_output cells are parsed as JSON when the whole cell is valid JSON (42 is a number,
    {"q": 1} an object) and kept as text otherwise; metadata cells must be JSON objects, events cells JSON
    arrays; tags are a JSON array or a comma-separated list. tags, source_run_id and source_ref go into the
    item's metadata. A bad row is reported with its line and field; malformed CSV rejects the whole file.
    """
    given = {"input": input_column, "expected_output": expected_output_column, "split": split_column,
             "metadata": metadata_column, "events": events_column, "tags": tags_column,
             "source_run_id": source_run_id_column, "source_ref": source_ref_column}  # fmt: skip
    columns = {name: column for name, column in given.items() if column is not None and name in FIELDS}
    mapping = CsvMapping(columns=columns, source_ref=source_ref, delimiter=delimiter, header=not no_header)
    text = read_text(file, "--file", raw_newlines=True)  # a quoted cell keeps its \r
    with gateway() as gw:
        row = gw.upload_csv(ref(gw, "dataset", dataset_id, "DATASET_ID"), text, mapping, partial)
    if fmt is Format.table:
        for error in row["errors"]:
            note(f"skipped {error['message']}")
    print_created(fmt, row, f"Added {row['added']} of {row['rows']} rows to the draft of {dataset_id}")


DEDUP_COLUMNS = ["group", "size", "keep", "remove"]


@dedup.command("preview")
def dedup_preview(
    dataset_id: str,
    include_preview: Annotated[
        bool, typer.Option("--include-preview", help="Show each group's input and expected output.")
    ] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Show the draft's duplicate groups: items whose input and expected output are equal as canonical JSON
    (keys sorted; metadata, events and split do not count). apply keeps each group's earliest item."""
    with gateway() as gw:
        result = gw.preview_dedup(ref(gw, "dataset", dataset_id, "DATASET_ID"), include_preview)
    columns = DEDUP_COLUMNS + (["input", "expected_output"] if include_preview else [])
    if fmt is Format.table:
        note(f"{len(result['groups'])} duplicate groups, {result['duplicates']} items to remove "
             f"of {result['draft_items']} in the draft")  # fmt: skip
    emit(result if fmt is Format.json else result["groups"], fmt, columns)


@dedup.command("apply")
def dedup_apply(
    dataset_id: str,
    remove_item_ids: Annotated[
        list[str] | None,
        typer.Option(
            "--remove-item-id",
            help="Remove only this duplicate (repeatable); default: all but the earliest item of each group.",
        ),
    ] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Remove duplicates from the draft: every item but the earliest of each group, or only the given ones."""
    with gateway() as gw:
        result = gw.apply_dedup(ref(gw, "dataset", dataset_id, "DATASET_ID"), remove_item_ids)
    print_created(fmt, result, f"Removed {result['removed']} duplicate items from the draft of {dataset_id}")
