"""Datasets: the list, a dataset's versions and their diff, a version's items, and the draft.

Every change goes through ``services.datasets`` (as ``agnt5 datasets`` and the REST API do), with the same
validation and messages; a refused form is shown again with its values and the message naming the field. Tables
page on the server (``projections.studio_datasets``): no page reads every item of a version or of the draft.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
from collections import OrderedDict
from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import File, Form, Request, Response, UploadFile
from markupsafe import Markup, escape

from agnt5_evals.api.deps import get_services
from agnt5_evals.api.studio.session import SessionDep
from agnt5_evals.api.studio.web import PREFIX, markup, redirect
from agnt5_evals.api.studio.web import page as render
from agnt5_evals.api.studio.web import router as studio_router
from agnt5_evals.domain import jsonio
from agnt5_evals.domain.app_datasets import check_item
from agnt5_evals.domain.csv_import import FIELDS, CsvMapping
from agnt5_evals.domain.errors import Conflict, Invalid, NotFound
from agnt5_evals.domain.ids import parse_uuid
from agnt5_evals.projections import queries
from agnt5_evals.projections import studio_datasets as reads
from agnt5_evals.services import datasets as use

router = studio_router()

PAGE_SIZE = 50
DIFF_SHOWN = 100  # items shown with their values per kind of change (the counts are always whole)
DIFFS_KEPT = 8  # version diffs kept in memory: published versions never change, so neither does their diff
_DIFFS: OrderedDict[tuple[UUID, UUID], dict[str, Any]] = OrderedDict()
MAX_UPLOAD_BYTES = 64 * 1024 * 1024
Text = Annotated[str, Form(max_length=1_000_000)]
Short = Annotated[str, Form(max_length=2_000)]


def _status(exc: Invalid | Conflict | NotFound) -> int:
    return 409 if isinstance(exc, Conflict) else 404 if isinstance(exc, NotFound) else 422


def _page_number(value: str) -> int:
    """A 1-based page number from the query (anything else: the first page)."""
    return max(int(value), 1) if value.isdecimal() and len(value) < 9 else 1


def _dataset_id(value: str) -> UUID:
    return parse_uuid(value, "dataset_id")


# -- the list ---------------------------------------------------------------------------------------------------


def _list_page(request: Request, search: str, number: int, status: int = 200, **form: Any) -> Response:
    rows = reads.datasets(get_services(request).view, search, (number - 1) * PAGE_SIZE, PAGE_SIZE + 1)
    context = {"error": None, "name": "", "description": "", **form}
    return render(request, "datasets/list.html.j2", status, nav="datasets", datasets=rows[:PAGE_SIZE],
                more=len(rows) > PAGE_SIZE, search=search, number=number, **context)  # fmt: skip


@router.get("/datasets")
def dataset_list(request: Request, session: SessionDep, search: str = "", page: str = "1") -> Response:
    """The datasets (newest first, 50 a page), a search over names, and the form that creates one."""
    return _list_page(request, search[:200], _page_number(page))


@router.post("/datasets")
def create_dataset(request: Request, session: SessionDep, name: Short = "", description: Text = "") -> Response:
    """Create a dataset (as ``POST /datasets``); then its draft, to add items."""
    try:
        row = use.create_dataset(get_services(request), name, description)
    except (Invalid, Conflict) as exc:
        return _list_page(request, "", 1, _status(exc), error=exc.as_dict(), name=name, description=description)
    return redirect(request, f"{PREFIX}/datasets/{row['id']}/draft")


# -- a dataset, its versions and their diff ----------------------------------------------------------------------


@router.get("/datasets/{dataset_id}")
def dataset_page(request: Request, dataset_id: str, session: SessionDep) -> Response:
    """A dataset with its versions, and the form that picks two of them to diff."""
    view = get_services(request).view
    dataset = queries.dataset(view, str(_dataset_id(dataset_id)))
    versions = queries.dataset_versions(view, dataset["id"])
    return render(request, "datasets/dataset.html.j2", nav="datasets", dataset=dataset, versions=versions)


def _json_lines(value: Any) -> list[str]:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode().split("\n")


def line_diff(old: Any, new: Any) -> tuple[Markup, Markup]:
    """Two values as indented JSON, side by side: the lines only the old one has marked removed, those only the new
    one has marked added (every line escaped)."""
    before, after = _json_lines(old), _json_lines(new)
    left: list[str] = []
    right: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes():
        kind = "" if op == "equal" else "changed"
        left += [_line(line, "line-del" if kind else "") for line in before[i1:i2]]
        right += [_line(line, "line-add" if kind else "") for line in after[j1:j2]]
    return markup("".join(left)), markup("".join(right))


def _line(text: str, css: str) -> str:
    shown = str(escape(text)) or " "
    return f'<span class="{css}">{shown}</span>' if css else f"{shown}\n"


def _values(view: Any, version_id: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    return queries.dataset_items_by_id(view, version_id, ids[:DIFF_SHOWN])


@router.get("/datasets/{dataset_id}/diff")
def diff_page(request: Request, dataset_id: str, session: SessionDep, base: str = "", compare: str = "") -> Response:
    """Items added, removed and changed from version ``base`` to version ``compare`` (as
    ``GET /datasets/{id}/versions/{a}/compare/{b}``, counted in SQL over both versions: the result is kept, since
    published versions never change), the first 100 of each kind with their values."""
    svc = get_services(request)
    did = _dataset_id(dataset_id)
    base_id, compare_id = parse_uuid(base, "base"), parse_uuid(compare, "compare")
    use.version_of(svc, did, base_id, "base")  # checked on every view (the project, the dataset) ...
    use.version_of(svc, did, compare_id, "compare")
    result = _DIFFS.get((base_id, compare_id))  # ... while the diff of two immutable versions is kept
    if result is None:
        result = _DIFFS[base_id, compare_id] = use.compare(svc, did, base_id, compare_id)
        while len(_DIFFS) > DIFFS_KEPT:
            _DIFFS.popitem(last=False)
    old, new = result["base_version_id"], result["compare_version_id"]
    added = _values(svc.view, new, [row["id"] for row in result["added"]])
    removed = _values(svc.view, old, [row["id"] for row in result["removed"]])
    changed_ids = [row["id"] for row in result["changed"]]
    before, after = _values(svc.view, old, changed_ids), _values(svc.view, new, changed_ids)
    return render(request, "datasets/diff.html.j2", nav="datasets", dataset=queries.dataset(svc.view, str(did)),
                versions=queries.dataset_versions(svc.view, str(did)), result=result, added=added,
                removed=removed, before=before, after=after, shown=DIFF_SHOWN, line_diff=line_diff)  # fmt: skip


# -- a version's items -------------------------------------------------------------------------------------------


@router.get("/datasets/{dataset_id}/versions/{version_id}")
def version_page(
    request: Request,
    dataset_id: str,
    version_id: str,
    session: SessionDep,
    page: str = "1",
    split: str = "",
    q: str = "",
    start: str = "0",
) -> Response:
    """A version's items, 50 a page; filtered by split and by text over the input and expected output JSON (a
    filter reads a bounded stretch of the version per page and says where it stopped)."""
    svc = get_services(request)
    did = _dataset_id(dataset_id)
    version = use.version_of(svc, did, parse_uuid(version_id, "version_id"))
    dataset = queries.dataset(svc.view, str(did))
    split, q = split[:200], q[:200]
    context: dict[str, Any] = {"split": split, "q": q, "found": None, "number": 1, "pages": 1}
    if split or q:
        first = _page_number(start) - 1 if start.isdecimal() else 0  # a position (0-based), kept in range
        found = reads.search_items(svc.view, version["id"], version["n_items"], min(first, version["n_items"]),
                                   PAGE_SIZE, split, q)  # fmt: skip
        items = found.items
        context["found"] = found
    else:
        number = min(_page_number(page), max(math.ceil(version["n_items"] / PAGE_SIZE), 1))
        items = reads.version_items(svc.view, version["id"], (number - 1) * PAGE_SIZE, PAGE_SIZE)
        context.update(number=number, pages=max(math.ceil(version["n_items"] / PAGE_SIZE), 1))
    return render(request, "datasets/version.html.j2", nav="datasets", dataset=dataset, version=version, items=items,
                **context)  # fmt: skip


# -- the draft ---------------------------------------------------------------------------------------------------


def _draft_page(request: Request, dataset_id: UUID, number: int = 1, status: int = 200, **form: Any) -> Response:
    view = get_services(request).view
    dataset = queries.dataset(view, str(dataset_id))
    pages = max(math.ceil(dataset["draft_items"] / PAGE_SIZE), 1)
    number = pages if number == 0 else min(number, pages)  # 0: the last page
    items = reads.draft_items(view, dataset["id"], (number - 1) * PAGE_SIZE, PAGE_SIZE)
    context = {"error": None, "ok": None, "add": None, "edit": None, "upload_error": None, "publish_error": None,
               "description": "", **form}  # fmt: skip
    return render(request, "datasets/draft.html.j2", status, nav="datasets", dataset=dataset, items=items,
                number=number, pages=pages, size=PAGE_SIZE, **context)  # fmt: skip


@router.get("/datasets/{dataset_id}/draft")
def draft_page(
    request: Request,
    dataset_id: str,
    session: SessionDep,
    page: str = "1",
    edit: str = "",
    added: str = "",
    uploaded: str = "",
) -> Response:
    """The draft: its items (50 a page) to edit or remove, the add-item, upload and publish forms."""
    did = _dataset_id(dataset_id)
    view = get_services(request).view
    ok = None
    if added and reads.draft_item(view, str(did), added[:400]) is not None:  # a link cannot make up a message
        ok = f"Added item {added[:400]}."
    elif uploaded.isdecimal() and len(uploaded) < 10:
        ok = f"Added {int(uploaded)} items."
    chosen = None
    if edit:
        row = reads.draft_item(view, str(did), edit[:400])
        if row is None:
            raise NotFound(f"item {edit[:400]} is not in the draft of dataset {did}", field="item_id")
        chosen = {"item_id": row["item_id"], "input": jsonio_text(row["input"]),
                  "expected_output": jsonio_text(row["expected_output"]), "metadata": jsonio_text(row["metadata"]),
                  "split": row["split"] or ""}  # fmt: skip
    return _draft_page(request, did, 0 if page == "last" else _page_number(page), edit=chosen, ok=ok)


def jsonio_text(value: Any) -> str:
    """A value as the JSON text an edit form shows (absent: empty)."""
    return "" if value is None else orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def _item_from_form(input: str, expected_output: str, metadata: str, split: str) -> dict[str, Any]:
    """An item from the form's JSON text fields, parsed strictly; a bad field is named (as the CLI's options)."""
    if not input.strip():
        raise Invalid('enter the item\'s input as JSON (a string in quotes: "hello")', field="input")
    item: dict[str, Any] = {"input": jsonio.loads(input, "input"), "split": split or None}
    if expected_output.strip():
        item["expected_output"] = jsonio.loads(expected_output, "expected_output")
    if metadata.strip():
        item["metadata"] = jsonio.loads(metadata, "metadata")
        if not isinstance(item["metadata"], dict):
            raise Invalid("must be a JSON object", field="metadata")
    return item


@router.post("/datasets/{dataset_id}/draft/items")
def add_item(
    request: Request,
    dataset_id: str,
    session: SessionDep,
    input: Text = "",
    expected_output: Text = "",
    metadata: Text = "",
    split: Short = "",
    item_id: Short = "",
) -> Response:
    """Add one item to the draft (as ``datasets add-example``; an id of the draft already is refused, 409)."""
    did = _dataset_id(dataset_id)
    form = {"input": input, "expected_output": expected_output, "metadata": metadata, "split": split,
            "item_id": item_id}  # fmt: skip
    try:
        item = _item_from_form(input, expected_output, metadata, split)
        if item_id.strip():
            item["id"] = item_id.strip()
        row = use.add_example(get_services(request), did, item)
    except (Invalid, Conflict) as exc:
        return _draft_page(request, did, 1, _status(exc), error=exc.as_dict(), add=form)
    return redirect(request, f"{PREFIX}/datasets/{did}/draft?page=last&added={row['id']}#items")


@router.post("/datasets/{dataset_id}/draft/edit")
def edit_item(
    request: Request,
    dataset_id: str,
    session: SessionDep,
    item_id: Short = "",
    input: Text = "",
    expected_output: Text = "",
    metadata: Text = "",
    split: Short = "",
) -> Response:
    """Replace a draft item's values (its removal and the new item under the same id, in one save)."""
    did = _dataset_id(dataset_id)
    form = {"item_id": item_id, "input": input, "expected_output": expected_output, "metadata": metadata,
            "split": split}  # fmt: skip
    try:
        item = _item_from_form(input, expected_output, metadata, split)
        use.replace_item(get_services(request), did, item_id, item)
    except (Invalid, Conflict, NotFound) as exc:
        return _draft_page(request, did, 1, _status(exc), error=exc.as_dict(), edit=form)
    return redirect(request, f"{PREFIX}/datasets/{did}/draft?page=last#items")


@router.post("/datasets/{dataset_id}/draft/remove")
def remove_item(
    request: Request, dataset_id: str, session: SessionDep, item_id: Short = "", page: Short = "1"
) -> Response:
    """Remove one item from the draft (as ``DELETE /datasets/{id}/items/{item_id}``)."""
    did = _dataset_id(dataset_id)
    use.remove_item(get_services(request), did, item_id)
    return redirect(request, f"{PREFIX}/datasets/{did}/draft?page={_page_number(page)}#items")


def _csv_mapping(text: str) -> CsvMapping:
    """Columns named after item fields (input, expected_output, split, metadata, events, tags, ...) feed them."""
    try:
        header = next(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")), [])
    except csv.Error:
        header = []  # parse_csv names the malformed line
    return CsvMapping(columns={name: name for name in FIELDS if name in header})


def _jsonl_items(text: str) -> list[Any]:
    """JSONL items, each line parsed strictly and checked as an item; a bad one names its line (nothing is kept)."""
    items: list[Any] = []
    for number, line in jsonio.jsonl_lines(text):
        raw = jsonio.loads(line, f"items[{len(items)}]", number)
        check_item(raw, f"line {number}")
        items.append(raw)
    if not items:
        raise Invalid("the file holds no items", field="file")
    return items


@router.post("/datasets/{dataset_id}/draft/upload")
def upload(
    request: Request,
    dataset_id: str,
    session: SessionDep,
    file: Annotated[UploadFile | None, File()] = None,
    format: Short = "auto",
) -> Response:
    """Add a JSONL or CSV file's items to the draft, all or none (as ``datasets upload`` / ``upload-csv
    --no-partial``): a bad line is named and nothing is written."""
    did = _dataset_id(dataset_id)
    svc = get_services(request)
    try:
        if file is None or not file.filename:
            raise Invalid("choose a JSONL or CSV file", field="file")
        data = file.file.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise Invalid(f"the file is larger than {MAX_UPLOAD_BYTES // 2**20} MiB; upload it in parts", field="file")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Invalid(f"{file.filename} is not UTF-8 text (byte {exc.start})", field="file") from None
        kind = format if format in ("jsonl", "csv") else "csv" if file.filename.lower().endswith(".csv") else "jsonl"
        if kind == "csv":
            added = use.upload_csv(svc, did, text, _csv_mapping(text), partial=False)["added"]
        else:
            added = use.add_items(svc, did, _jsonl_items(text))["added"]
    except (Invalid, Conflict) as exc:
        return _draft_page(request, did, 1, _status(exc), upload_error=exc.as_dict())
    return redirect(request, f"{PREFIX}/datasets/{did}/draft?page=last&uploaded={added}#items")


@router.post("/datasets/{dataset_id}/publish")
def publish(request: Request, dataset_id: str, session: SessionDep, description: Text = "") -> Response:
    """Publish the draft as the next version (as ``datasets publish``); then that version's page."""
    did = _dataset_id(dataset_id)
    try:
        version = use.publish(get_services(request), did, description)
    except (Invalid, Conflict) as exc:
        return _draft_page(request, did, 1, _status(exc), publish_error=exc.as_dict(), description=description)
    return redirect(request, f"{PREFIX}/datasets/{did}/versions/{version['id']}")
