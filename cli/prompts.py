"""``agnt5 prompts``: managed prompts and their numbered, immutable versions (targets of prompt experiments)."""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer

from agnt5_evals.cli.common import Format, FormatOption, emit, json_option, print_created, read_text
from agnt5_evals.cli.gateway import gateway
from agnt5_evals.cli.refs import ref
from agnt5_evals.domain.errors import Invalid

app = typer.Typer(help="Prompts and their immutable versions: targets of prompt experiments.", no_args_is_help=True)
versions = typer.Typer(help="Numbered, immutable versions of a prompt.", no_args_is_help=True)
app.add_typer(versions, name="versions")

COLUMNS = ["id", "name", "description", "versions", "latest_version_id", "created_at"]
VERSION_COLUMNS = ["id", "number", "model", "output_format", "parameters", "created_at"]
BLOCK = re.compile(r"<(system|user|assistant)>(.*?)</\1>", re.IGNORECASE | re.DOTALL)

TemplateOption = Annotated[
    str | None, typer.Option("--template", help="The prompt as one user message, with {{ var }} placeholders.")
]
FileOption = Annotated[
    str | None,
    typer.Option("--file", help="Prompt file (- for stdin): <System>/<User>/<Assistant> blocks, or one user message."),
]
MessagesOption = Annotated[
    str | None, typer.Option("--messages", help="JSON array of {role, content}; roles: system, user, assistant.")
]
ModelOption = Annotated[str, typer.Option("--model", help="Model name sent to the LLM endpoint.")]
ParametersOption = Annotated[
    str | None, typer.Option("--parameters", help='JSON object, e.g. {"temperature": 0, "max_tokens": 300}.')
]
OutputFormatOption = Annotated[
    str, typer.Option("--output-format", help="text (JSON answers are parsed) or json (the answer must be JSON).")
]
ResponseSchemaOption = Annotated[
    str | None, typer.Option("--response-schema", help="JSON Schema to request from the model (--output-format json).")
]


def file_messages(text: str, path: str) -> list[dict[str, Any]]:
    """A prompt file's messages: its ``<System>``, ``<User>``, ``<Assistant>`` blocks, else one user message."""
    blocks = [{"role": role.lower(), "content": body.strip()} for role, body in BLOCK.findall(text)]
    if blocks:
        return blocks
    if not text.strip():
        raise Invalid(f"--file: {path} is empty")
    return [{"role": "user", "content": text.strip()}]


def _messages(template: str | None, file: str | None, messages: str | None) -> Any:
    if sum(value is not None for value in (template, file, messages)) != 1:
        raise Invalid("--template, --file, --messages: give exactly one of them")
    if template is not None:
        if not template.strip():
            raise Invalid("--template: must not be empty")
        return [{"role": "user", "content": template}]
    if file is not None:
        return file_messages(read_text(file, "--file"), file)
    parsed = json_option(messages, "--messages", object_only=False)
    if not isinstance(parsed, list):
        raise Invalid("--messages: must be a JSON array of {role, content} objects")
    return parsed


def _content(
    template: str | None,
    file: str | None,
    messages: str | None,
    model: str,
    parameters: str | None,
    output_format: str,
    response_schema: str | None,
) -> dict[str, Any]:
    return {
        "messages": _messages(template, file, messages),
        "model": model,
        "parameters": json_option(parameters, "--parameters") if parameters is not None else {},
        "output_format": output_format,
        "response_schema": json_option(response_schema, "--response-schema"),
    }


@app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="Prompt name.")],
    model: ModelOption,
    template: TemplateOption = None,
    file: FileOption = None,
    messages: MessagesOption = None,
    parameters: ParametersOption = None,
    output_format: OutputFormatOption = "text",
    response_schema: ResponseSchemaOption = None,
    description: Annotated[str, typer.Option("--description")] = "",
    fmt: FormatOption = Format.table,
) -> None:
    """Create a prompt and its version 1; prints the prompt id (the version id goes to stderr).

    Give the messages with exactly one of --template, --file or --messages. Placeholders {{ path.to.var }} are
    filled from each dataset item's input (the input itself if it is an object, else {"input": <input>}).
    """
    content = _content(template, file, messages, model, parameters, output_format, response_schema)
    with gateway() as gw:
        row = gw.create_prompt(name, content, description)
    print_created(fmt, row, f"Created prompt {name!r}; version 1: {row['version']['id']}")


@app.command("list")
def list_(fmt: FormatOption = Format.table) -> None:
    """List prompts with their number of versions and latest version."""
    with gateway() as gw:
        emit(gw.prompts(), fmt, COLUMNS)


@versions.command("list")
def versions_list(prompt_id: str, fmt: FormatOption = Format.table) -> None:
    """List a prompt's versions (--format json shows their messages and parameters)."""
    with gateway() as gw:
        emit(gw.prompt_versions(ref(gw, "prompt", prompt_id, "PROMPT_ID")), fmt, VERSION_COLUMNS)


@versions.command("create")
def versions_create(
    prompt_id: str,
    model: ModelOption,
    template: TemplateOption = None,
    file: FileOption = None,
    messages: MessagesOption = None,
    parameters: ParametersOption = None,
    output_format: OutputFormatOption = "text",
    response_schema: ResponseSchemaOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Add the next immutable version of a prompt (complete content, as for create); prints its id.

    Experiments that pin no --prompt-version-id run the latest version from their next run on.
    """
    content = _content(template, file, messages, model, parameters, output_format, response_schema)
    with gateway() as gw:
        row = gw.create_prompt_version(ref(gw, "prompt", prompt_id, "PROMPT_ID"), content)
    print_created(fmt, row, f"Created version {row['number']} of prompt {prompt_id}")
