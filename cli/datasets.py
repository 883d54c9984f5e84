"""``agnt5 datasets``: a mutable draft, published as numbered immutable versions."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import typer

from cli.common import Format, FormatOption, emit, json_option, print_created, read_text, services, uuid_arg
from domain.errors import Invalid
from projections import queries

app = typer.Typer(help="Create datasets, edit their draft and publish immutable versions.", no_args_is_help=True)
versions = typer.Typer(help="Published versions of a dataset.", no_args_is_help=True)
app.add_typer(versions, name="versions")

COLUMNS = ["id", "name", "description", "draft_items", "versions", "created_at"]
VERSION_COLUMNS = ["id", "number", "n_items", "description", "created_at"]


@app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="Dataset name.")],
    description: Annotated[str, typer.Option("--description")] = "",
    metadata: Annotated[str | None, typer.Option("--metadata", help="JSON object of labels.")] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Create a dataset with an empty draft; prints its id."""
    with services(catch_up=False) as svc:
        written = svc.app.create_dataset(name, description, json_option(metadata, "--metadata"))
        svc.wait_for(written.position)
        print_created(fmt, queries.dataset(svc.view, str(written.id)), f"Created dataset {name!r}")


@app.command("list")
def list_(
    search: Annotated[str, typer.Option("--search", help="Only names containing this text.")] = "",
    fmt: FormatOption = Format.table,
) -> None:
    """List datasets."""
    with services() as svc:
        emit(queries.datasets(svc.view, search), fmt, COLUMNS)


@app.command("show")
def show(dataset_id: str, fmt: FormatOption = Format.table) -> None:
    """Show one dataset with its draft size and versions."""
    with services() as svc:
        row = queries.dataset(svc.view, str(uuid_arg(dataset_id, "DATASET_ID")))
        row["versions_list"] = queries.dataset_versions(svc.view, row["id"])
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
    with services(catch_up=False) as svc:
        did = uuid_arg(dataset_id, "DATASET_ID")
        written = svc.app.add_items(did, [item])
        svc.wait_for(written.position)
        row = queries.draft_items(svc.view, str(did))[-1]
        print_created(fmt, {"id": row["item_id"], **row}, f"Added an item to the draft of {did}")


def read_jsonl(path: str | None) -> list[Any]:
    """Read JSONL items from a file or stdin; a bad line names its number and nothing is written."""
    text = read_text(path, "--file")
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            raise Invalid(f"--file: line {number}: malformed JSON: {exc}") from None
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
    with services(catch_up=False) as svc:
        did = uuid_arg(dataset_id, "DATASET_ID")
        written = svc.app.add_items(did, items)
        svc.wait_for(written.position)
        row = {"id": str(did), "added": written.number, **queries.dataset(svc.view, str(did))}
        print_created(fmt, row, f"Added {written.number} items to the draft of {did}")


@app.command("publish")
def publish(
    dataset_id: str,
    description: Annotated[str, typer.Option("--description", help="A note for this version.")] = "",
    metadata: Annotated[str | None, typer.Option("--metadata", help="JSON object of labels.")] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Snapshot the draft as the next numbered, immutable version; prints the version id."""
    with services(catch_up=False) as svc:
        did = uuid_arg(dataset_id, "DATASET_ID")
        written = svc.app.publish(did, description, json_option(metadata, "--metadata"))
        svc.wait_for(written.position)
        row = queries.dataset_version(svc.view, str(written.id))
        print_created(fmt, row, f"Published version {written.number} of dataset {did} ({row['n_items']} items)")


@versions.command("list")
def versions_list(dataset_id: str, fmt: FormatOption = Format.table) -> None:
    """List a dataset's published versions."""
    with services() as svc:
        emit(queries.dataset_versions(svc.view, str(uuid_arg(dataset_id, "DATASET_ID"))), fmt, VERSION_COLUMNS)


@versions.command("export")
def versions_export(dataset_id: str, version_id: str) -> None:
    """Print a version's items as JSONL (the upload format)."""
    with services() as svc:
        version = queries.dataset_version(svc.view, str(uuid_arg(version_id, "VERSION_ID")))
        if version["dataset_id"] != str(uuid_arg(dataset_id, "DATASET_ID")):
            raise Invalid(f"VERSION_ID: version {version_id} belongs to another dataset")
        for item in queries.version_items(svc.view, version["id"]):
            keys = ("input", "expected_output", "metadata", "events", "split")
            typer.echo(orjson.dumps({"id": item["item_id"], **{k: item[k] for k in keys}}).decode())
