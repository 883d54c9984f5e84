"""Shared CLI plumbing: services, output formats, JSON and duration options, and how errors are printed."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID, uuid4

import orjson
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from agnt5_evals.domain import jsonio
from agnt5_evals.domain.errors import EvalsError, Invalid
from agnt5_evals.domain.ids import parse_uuid
from agnt5_evals.domain.jsonio import INDENT, array_end, array_item

if TYPE_CHECKING:
    from agnt5_evals.adapters.bootstrap import Services
    from agnt5_evals.adapters.reads import Reader


class Format(StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"


FormatOption = Annotated[
    Format, typer.Option("--format", help="Output format: table for people, json/jsonl for scripts.")
]


@contextmanager
def services(catch_up: bool = False) -> Iterator[Services]:
    """Open the stores for one command.

    Reads never write: a query answers from the read model as it is, which writers keep current (every command
    catches up its own events, a worker each chunk). ``catch_up`` is accepted for older callers and ignored;
    ``agnt5 projections catch-up`` applies a backlog a killed process left.
    """
    del catch_up
    _local_only()
    from agnt5_evals.adapters.bootstrap import build  # the write side: imported by the commands that open it

    svc = build()
    try:
        _note_unbuilt_view(svc.lag())
        yield svc
    finally:
        svc.close()


@contextmanager
def reads() -> Iterator[Reader]:
    """Open the read model alone for a read-only command (``adapters.reads``): neither the application nor the
    domain's aggregates are imported. A store it cannot open so (tables missing: new, or older than the view)
    takes the full path of :func:`services`, which creates them or says what is wrong."""
    _local_only()
    from agnt5_evals.adapters.reads import NotOpened, ReadServices
    from agnt5_evals.adapters.settings import Settings

    settings = Settings.from_env()
    svc: ReadServices | None = None
    try:
        svc = ReadServices(settings)
        lag = svc.lag()
    except NotOpened:
        if svc is not None:
            svc.close()
        svc = None
    except BaseException:
        if svc is not None:
            svc.close()
        raise
    if svc is None:
        with services() as full:
            yield full
        return
    try:
        _note_unbuilt_view(lag)
        yield svc
    finally:
        svc.close()


def _local_only() -> None:
    if os.environ.get("AGNT5_API_URL", "").strip():  # the remote CLI: a command that needs this machine's store
        raise Invalid("this command works on this machine's store only: unset AGNT5_API_URL to run it here "
                      "(or run it on the server)")  # fmt: skip


def _note_unbuilt_view(lag: tuple[int, int]) -> None:
    """Say so when the read model was never built from this log (a store from an older version, a new view
    schema): queries would answer as if the store were empty. ``lag``: the log's head and the view's position
    (two reads; nothing is written)."""
    head, view = lag
    if view == 0 and head > 0:
        note(f"note: the read model has not been built from this store's {head} events yet, so queries show nothing; "
             "run `agnt5 projections catch-up` once")  # fmt: skip


def uuid_arg(value: str, field: str) -> UUID:
    return parse_uuid(value, field)


def read_text(path: str | None, flag: str, raw_newlines: bool = False) -> str:
    """A file's text, or standard input for ``-`` (or no path); an unreadable file is named with its flag.

    ``raw_newlines``: line ends are kept as they are (a CSV reader needs them: a quoted cell may hold a bare
    ``\r``, which universal newlines would turn into ``\n``)."""
    try:
        if path in (None, "-"):
            if raw_newlines and hasattr(sys.stdin, "buffer"):
                return bytes(sys.stdin.buffer.read()).decode("utf-8")
            return sys.stdin.read()
        with open(path, encoding="utf-8", newline="" if raw_newlines else None) as handle:
            return handle.read()
    except OSError as exc:
        raise Invalid(f"cannot read {path}: {exc.strerror}", field=flag) from None
    except UnicodeDecodeError as exc:
        raise Invalid(f"{path or 'stdin'} is not UTF-8 text (byte {exc.start})", field=flag) from None


def json_option(value: str | None, field: str, *, object_only: bool = True) -> Any:
    """Parse a JSON option value strictly (``domain.jsonio``), naming the option when it is malformed."""
    if value is None:
        return None
    parsed = jsonio.loads(value, field.lstrip("-").replace("-", "_"))  # the field; errors print it as its flag
    if object_only and not isinstance(parsed, dict):
        raise Invalid("must be a JSON object", field=field)
    return parsed


TimeoutOption = Annotated[
    str | None,
    typer.Option("--timeout", help="With --wait: give up waiting after this long: seconds (90), or 90s, 15m, 1h30m."),
]

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")


def duration(value: str | None, field: str = "--timeout") -> float | None:
    """Parse ``15m``, ``90s``, ``1h30m`` or plain seconds."""
    if value is None:
        return None
    text = value.strip().lower()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if seconds < 0 or seconds != seconds:
            raise Invalid(f"{value!r} must be a positive duration", field=field)
        return seconds
    match = _DURATION.match(text)
    if not text or not match or not any(match.groups()):
        raise Invalid(f"{value!r} is not a duration: give seconds (90) or hours, minutes and seconds "
                      "(90s, 15m, 1h30m)", field=field)  # fmt: skip
    hours, minutes, seconds = (float(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def wait_timeout(wait: bool, timeout: str | None, wait_flag: str = "--wait") -> float | None:
    """A waiting command's ``--timeout`` in seconds, checked before anything starts: a duration, and given only
    with ``--wait`` (without it nothing waits, so the timeout would be silently ignored)."""
    if timeout is not None and not wait:
        raise Invalid(f"only applies with {wait_flag}: nothing waits without it", field="--timeout")
    return duration(timeout)


# A field whose flag is not its own name with dashes (``dataset_version_id`` is ``--dataset-version-id`` anyway).
FLAGS = {
    "target.type": "--target-type",
    "target.deployment_id": "--deployment-id",
    "target.component_name": "--component-name",
    "target.component_type": "--component-type",
    "target.prompt_id": "--prompt-id",
    "target.prompt_version_id": "--prompt-version-id",
    "scorers": "--builtin-scorer",
    "scorer_ids": "--scorer-id",
    "run_item_ids": "--run-item-id",
    "remove_item_ids": "--remove-item-id",
    "items": "--file",
    "format": "--artifact-format",  # reports export (a command with --format names its own)
}


def _candidates(field: str) -> Iterator[str]:
    """``scorers[1].config`` then ``scorers[1]`` then ``scorers``: the field, then what contains it."""
    while field:
        yield field
        field = re.sub(r"(\.[^.\[]*|\[\d*\])$", "", field) if re.search(r"[.\[]", field) else ""


def cli_name(field: str, command: Any = None) -> str:
    """How the command spells a field: its flag (``--target-type``), its argument (``RUN_ID``), else the field."""
    if field == "project_id":  # the root option, whichever command it was given to
        return "--project-id"
    params = getattr(command, "params", [])
    for candidate in _candidates(field):
        flag = FLAGS.get(candidate, "--" + candidate.replace("_", "-").replace(".", "-"))
        if any(flag in param.opts for param in params if param.param_type_name == "option"):
            return flag
        name = candidate.replace(".", "_")
        for param in params:
            if param.param_type_name == "argument" and param.name == name:
                return name.upper()
    return field


def error_line(exc: EvalsError, command: Any = None) -> str:
    """The one line a domain error prints: its field as the command's flag (``--target-type: must be ...``)."""
    if not exc.field:
        return exc.message
    return f"{', '.join(cli_name(field, command) for field in exc.field.split(', '))}: {exc.message}"


def console(stderr: bool = False) -> Console:
    width = shutil.get_terminal_size((200, 24)).columns if sys.stdout.isatty() else 200
    return Console(stderr=stderr, width=width, highlight=False, soft_wrap=False)


def note(message: str) -> None:
    """A line for people, on stderr, so stdout stays clean for scripts."""
    typer.echo(message, err=True)


def print_created(fmt: Format, row: dict[str, Any], message: str) -> None:
    """What a create command prints: for people the message (stderr) and the id alone (stdout); else the row."""
    if fmt is Format.table:
        note(message)
        typer.echo(row["id"])
    else:
        emit(row, fmt)


def dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()


def printable(text: str) -> str:
    """``text`` with every control character but a line break shown as an escape (``\\x1b``): stored data must
    not drive the terminal (ANSI escapes, carriage returns, bells)."""
    if text.isprintable():
        return text
    return "".join(c if c == "\n" or unicodedata.category(c) != "Cc" else repr(c)[1:-1] for c in text)


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return printable(str(value))


def emit(data: Any, fmt: Format, columns: Sequence[str] = (), title: str = "",
         render: Callable[[Any], None] | None = None) -> None:  # fmt: skip
    """Print one object or a list of rows in the chosen format."""
    if fmt is Format.json:
        typer.echo(dumps(data))
    elif fmt is Format.jsonl:
        for row in data if isinstance(data, list) else [data]:
            typer.echo(orjson.dumps(row).decode())
    elif render is not None:
        render(data)
    else:
        table(data if isinstance(data, list) else [data], columns, title)


TABLE_BATCH = 1000  # rows per table when rows are streamed: a rich table holds all of its rows


def emit_rows(rows: Iterable[dict[str, Any]], fmt: Format, columns: Sequence[str] = ()) -> None:
    """Print rows as they come, holding a batch at a time: json prints what ``emit`` prints for their list (one
    indented array), jsonl a line per row, table a table per ``TABLE_BATCH`` rows (an empty one for none)."""
    if fmt is Format.jsonl:
        for row in rows:
            typer.echo(orjson.dumps(row).decode())
        return
    batches = _batched(rows)
    if fmt is Format.table:
        shown = False
        for batch in batches:
            table(list(batch), columns)
            shown = True
        if not shown:
            table([], columns)
        return
    first = True
    for batch in batches:
        pieces = []
        for row in batch:
            pieces.append(array_item(orjson.dumps(row, option=INDENT | orjson.OPT_NON_STR_KEYS), first))
            first = False
        typer.echo(b"".join(pieces).decode(), nl=False)
    typer.echo(array_end(first).decode())


def emit_streamed(data: dict[str, Any], fmt: Format) -> None:
    """What ``emit`` prints of ``data`` in json or jsonl, where each top-level value that is an iterator (a big
    list read a page at a time) is printed as it comes, element by element."""
    token = uuid4().hex  # where a streamed list goes in the text of the rest
    marks = {key: f"{token}:{key}" for key, value in data.items() if isinstance(value, Iterator)}
    rest = {key: marks.get(key, value) for key, value in data.items()}
    text = dumps(rest) if fmt is Format.json else orjson.dumps(rest).decode()
    for key, mark in marks.items():
        before, text = text.split(f'"{mark}"', 1)
        typer.echo(before, nl=False)
        first = True
        for element in data[key]:
            if fmt is Format.json:
                body = orjson.dumps(element, option=INDENT | orjson.OPT_NON_STR_KEYS)
                typer.echo(array_item(body, first, depth=2).decode(), nl=False)
            else:
                typer.echo(("[" if first else ",") + orjson.dumps(element).decode(), nl=False)
            first = False
        typer.echo(array_end(first, depth=2).decode() if fmt is Format.json else ("[]" if first else "]"), nl=False)
    typer.echo(text)


def _batched(rows: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == TABLE_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str = "") -> None:
    out = Table(title=Text(printable(title)) if title else None, show_lines=False)
    for column in columns:
        out.add_column(column, no_wrap=column.endswith("id"), overflow="fold")
    for row in rows:  # Text: a cell is never read as rich markup (a name "[red]x" prints as written)
        out.add_row(*(Text(cell(row.get(column))) for column in columns))
    console().print(out)


def write_file(path: str, body: bytes | Iterable[bytes], field: str = "out_file") -> None:
    """Write ``body`` to ``path`` (``-``: stdout) whole or not at all: into a temporary file of the same folder,
    then renamed over ``path``; a missing folder, a folder as ``path`` or a failed write names ``field``. ``body``
    may come in pieces (a streamed export): each is written as it comes; an error while they come leaves nothing."""
    pieces = [body] if isinstance(body, bytes) else body
    if path == "-":
        for piece in pieces:
            typer.echo(piece, nl=False)
        return
    target = os.path.abspath(path)
    folder = os.path.dirname(target)
    if os.path.isdir(target):
        raise Invalid(f"{path} is a folder: give a file path", field=field)
    if not os.path.isdir(folder):
        raise Invalid(f"cannot write {path}: folder {folder} does not exist", field=field)
    try:
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(target)}.", suffix=".part")
    except OSError as exc:
        raise Invalid(f"cannot write {path}: {exc.strerror}", field=field) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            for piece in pieces:
                handle.write(piece)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(temporary, 0o666 & ~mask)  # what open() would have made, not mkstemp's 0600
        os.replace(temporary, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise Invalid(f"cannot write {path}: {exc.strerror}", field=field) from None
    except BaseException:  # the pieces failed to come (the server went away, an interrupt): nothing is left
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
