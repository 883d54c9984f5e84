"""``agnt5 datasets versions`` and ``agnt5 datasets examples``: read, compare and restore published versions."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import typer

from agnt5_evals.cli.common import Format, FormatOption, console, emit, print_created, table
from agnt5_evals.cli.gateway import gateway
from agnt5_evals.cli.refs import ref
from agnt5_evals.domain.errors import Invalid

versions = typer.Typer(help="Published versions of a dataset.", no_args_is_help=True)
examples = typer.Typer(help="The items of a dataset version.", no_args_is_help=True)

VERSION_COLUMNS = ["id", "number", "n_items", "description", "created_at"]


@versions.command("list")
def versions_list(dataset_id: str, fmt: FormatOption = Format.table) -> None:
    """List a dataset's published versions."""
    with gateway() as gw:
        emit(gw.dataset_versions(ref(gw, "dataset", dataset_id, "DATASET_ID")), fmt, VERSION_COLUMNS)


@versions.command("export")
def versions_export(
    dataset_id: str,
    version_id: str,
    out_file: Annotated[str | None, typer.Option("--out-file", help="Write the JSONL here instead of stdout.")] = None,
    fmt: FormatOption = Format.jsonl,
) -> None:
    """Print a version's items as JSONL in the upload format (input, expected_output, metadata, events, split, id).

    Uploading the export (datasets upload) and publishing gives a version with identical items. With --out-file
    the items go to the file and stdout gets a summary; --format json prints one JSON array instead of lines.
    """
    with gateway() as gw:
        did = ref(gw, "dataset", dataset_id, "DATASET_ID")
        items = gw.export_items(did, ref(gw, "dataset_version", version_id, "VERSION_ID", did))
    if out_file is None:
        emit(items, Format.json if fmt is Format.json else Format.jsonl)
        return
    try:
        with open(out_file, "wb") as handle:
            handle.writelines(orjson.dumps(item) + b"\n" for item in items)
    except OSError as exc:
        raise Invalid(f"--out-file: cannot write {out_file}: {exc.strerror}") from None
    row = {"id": version_id, "items": len(items), "out_file": out_file}
    print_created(fmt if fmt is not Format.jsonl else Format.json, row, f"Wrote {len(items)} items to {out_file}")


def _show_compare(result: dict[str, Any]) -> None:
    out = console()
    out.print(f"base     {result['base_version_id']}  (version {result['base_number']})")
    out.print(f"compare  {result['compare_version_id']}  (version {result['compare_number']})")
    out.print(f"added {len(result['added'])}, removed {len(result['removed'])}, changed {len(result['changed'])}, "
              f"unchanged {result['unchanged']}")  # fmt: skip
    rows = [{"change": kind, "item_id": row["id"], "fields": ", ".join(row.get("fields", []))}
            for kind in ("added", "removed", "changed") for row in result[kind]]  # fmt: skip
    if rows:
        table(rows, ["change", "item_id", "fields"])


@versions.command("compare")
def versions_compare(
    dataset_id: str, base_version_id: str, compare_version_id: str, fmt: FormatOption = Format.table
) -> None:
    """Items added, removed and changed between two versions (paired by item id; changes name their fields)."""
    with gateway() as gw:
        did = ref(gw, "dataset", dataset_id, "DATASET_ID")
        base = ref(gw, "dataset_version", base_version_id, "BASE_VERSION_ID", did)
        other = ref(gw, "dataset_version", compare_version_id, "COMPARE_VERSION_ID", did)
        result = gw.compare_versions(did, base, other)
    emit(result, fmt, render=_show_compare)


@versions.command("restore-draft")
def versions_restore_draft(dataset_id: str, version_id: str, fmt: FormatOption = Format.table) -> None:
    """Reset the draft to exactly a version's items (what was in the draft before is dropped from it)."""
    with gateway() as gw:
        did = ref(gw, "dataset", dataset_id, "DATASET_ID")
        row = gw.restore_draft(did, ref(gw, "dataset_version", version_id, "VERSION_ID", did))
    print_created(fmt, row, f"The draft of {dataset_id} now holds the {row['draft_items']} items of {version_id}")


EXAMPLE_COLUMNS = ["id", "position", "split", "metadata_keys", "input_bytes", "expected_output_bytes", "events"]


@examples.command("list")
def examples_list(
    dataset_id: str,
    version: Annotated[int | None, typer.Option("--version", help="Version number (default: the latest).")] = None,
    draft: Annotated[bool, typer.Option("--draft", help="List the draft's items instead of a version's.")] = False,
    include_payload: Annotated[
        bool, typer.Option("--include-payload", help="Add input, expected_output, metadata and events.")
    ] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """List the items of a version by number: id, position, split, metadata keys, payload sizes (bytes of JSON)."""
    with gateway() as gw:
        rows = gw.examples(ref(gw, "dataset", dataset_id, "DATASET_ID"), version, draft, include_payload)
    emit(rows, fmt, EXAMPLE_COLUMNS + (["input", "expected_output"] if include_payload else []))
