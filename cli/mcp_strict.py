"""The MCP server's stdio transport, with every incoming message read by the strict JSON reader first.

The MCP SDK parses a message with pydantic, which keeps the last of two duplicate keys, NaN and integers beyond
64 bits: ``{"config": {"concurrency": 2, "concurrency": 40}}`` would start a run with 40 workers. Each line is
first checked with ``domain.jsonio``; a refused one never reaches a tool. A refused tool call is answered as a
tool error naming the argument (``config: the key 'concurrency' appears twice in one object``), any other
refused request as a JSON-RPC invalid-params error; a refused notification is dropped (it has no answer).
Text that is not JSON at all is passed on, and the SDK answers it as before.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, BinaryIO

import anyio
import mcp_types as types
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp.types import CallToolResult, TextContent

from agnt5_evals.domain import jsonio
from agnt5_evals.domain.errors import Invalid

ARGUMENTS = "params.arguments"


def _envelope(line: bytes) -> dict[str, Any]:
    """The message's id and method, read laxly (it was refused strictly): enough to address the answer."""
    try:
        value = json.loads(line.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def refusal(line: bytes, error: Invalid) -> types.JSONRPCMessage | None:
    """The answer to a refused message: a tool error for a tool call, invalid params otherwise, none for a
    notification."""
    envelope = _envelope(line)
    request_id = envelope.get("id")
    if not isinstance(request_id, str | int) or isinstance(request_id, bool):
        return None
    field = error.field or "params"
    if envelope.get("method") == "tools/call" and field.startswith(ARGUMENTS):
        argument = field.removeprefix(ARGUMENTS).removeprefix(".")  # the argument's own path, as a tool error names it
        refused = Invalid(error.message, field=argument or "arguments")
        result = CallToolResult(
            content=[TextContent(type="text", text=str(refused))], structured_content=refused.as_dict(), is_error=True
        )
        return types.JSONRPCResponse(
            jsonrpc="2.0", id=request_id, result=result.model_dump(by_alias=True, exclude_none=True)
        )
    data = error.as_dict() | {"field": field}
    return types.JSONRPCError(
        jsonrpc="2.0", id=request_id, error=types.ErrorData(code=types.INVALID_PARAMS, message=str(error), data=data)
    )


class StrictLines:
    """Standard input's lines for the SDK's reader, each checked first; refusals are answered, not passed on."""

    def __init__(self, wire: BinaryIO) -> None:
        self.wire = anyio.wrap_file(wire)
        self.answers: Any = None  # the transport's write stream, once it is open
        self.ready = anyio.Event()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._lines()

    async def _lines(self) -> AsyncIterator[bytes]:
        async for line in self.wire:
            try:
                jsonio.loads(line, "")
            except jsonio.MalformedJSON:
                yield line  # not JSON at all: the SDK answers it as it always has
                continue
            except Invalid as exc:
                answer = refusal(line, exc)
                if answer is not None:
                    await self.ready.wait()
                    await self.answers.send(SessionMessage(answer))
                continue
            yield line


@contextmanager
def _claimed_stdin() -> Iterator[BinaryIO]:
    """The protocol's input on a private descriptor, with fd 0 pointed at the null device while serving (so a
    tool or a child process can never read protocol bytes); fd 0 is restored afterwards."""
    wire = os.dup(0)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    try:
        with os.fdopen(wire, "rb", closefd=False) as stream:
            yield stream
    finally:
        os.dup2(wire, 0)
        os.close(wire)


@asynccontextmanager
async def strict_stdio_server() -> AsyncIterator[tuple[Any, Any]]:
    """The SDK's stdio transport (``mcp.server.stdio.stdio_server``), reading through ``StrictLines``."""
    with _claimed_stdin() as wire:
        lines = StrictLines(wire)
        async with stdio_server(stdin=lines) as (read_stream, write_stream):  # type: ignore[arg-type]
            lines.answers = write_stream
            lines.ready.set()
            yield read_stream, write_stream
