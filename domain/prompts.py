"""Prompts: a named prompt and its numbered, immutable versions (messages, model, parameters, output format).

Module and class names are event topics: do not rename.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from agnt5_evals.domain import ids
from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.projects import owned_by_project
from agnt5_evals.domain.tenancy import DEFAULT_PROJECT

JSON = Any


class Prompt(Aggregate):
    """A managed LLM prompt: a name and numbered immutable versions (the latest is what runs pick up)."""

    project_id = DEFAULT_PROJECT

    @event("Created")
    def __init__(self, name: str, description: str, project_id: str = DEFAULT_PROJECT) -> None:
        self.project_id = project_id
        self.name = name
        self.description = description
        self.versions = 0
        self.latest_version_id: UUID | None = None

    @property
    def next_version_number(self) -> int:
        return self.versions + 1

    @event("VersionAdded")
    def record_version(self, version_id: UUID, number: int) -> None:
        self.versions = number
        self.latest_version_id = version_id


class PromptVersion(Aggregate):
    """An immutable prompt version: messages (templates), model, parameters and output format."""

    project_id = DEFAULT_PROJECT

    @staticmethod
    def create_id(prompt_id: UUID, number: int) -> UUID:
        return ids.prompt_version_id(prompt_id, number)

    @event("Created")
    def __init__(
        self,
        prompt_id: UUID,
        number: int,
        messages: list[dict[str, JSON]],
        model: str,
        parameters: dict[str, JSON],
        output_format: str,
        response_schema: dict[str, JSON] | None,
        project_id: str = DEFAULT_PROJECT,
    ) -> None:
        self.project_id = project_id
        self.prompt_id = prompt_id
        self.number = number
        self.messages = messages
        self.model = model
        self.parameters = parameters
        self.output_format = output_format
        self.response_schema = response_schema

    @staticmethod
    def check_content(raw: dict[str, JSON]) -> dict[str, JSON]:
        """Validate a version's content (``messages, model, parameters, output_format, response_schema``)."""
        model = raw.get("model")
        if not isinstance(model, str) or not model.strip():
            raise Invalid("must not be empty", field="model")
        output_format = raw.get("output_format") or "text"
        if output_format not in PROMPT_OUTPUT_FORMATS:
            raise Invalid(f"must be text or json, got {output_format!r}", field="output_format")
        return {
            "messages": _check_messages(raw.get("messages")),
            "model": model.strip(),
            "parameters": _check_parameters(raw.get("parameters", {})),
            "output_format": output_format,
            "response_schema": _check_response_schema(raw.get("response_schema"), output_format),
        }


PROMPT_ROLES = ("system", "user", "assistant")
PROMPT_OUTPUT_FORMATS = ("text", "json")
RESERVED_PARAMETERS = ("model", "messages", "response_format", "stream")
NUMBER_PARAMETERS = ("temperature", "top_p", "presence_penalty", "frequency_penalty")


def _check_message(message: JSON, where: str) -> dict[str, JSON]:
    if not isinstance(message, dict):
        raise Invalid(f"{where}: must be an object {{role, content}}", field="messages")
    unknown = sorted(set(message) - {"role", "content"})
    if unknown:
        raise Invalid(f"{where}: unknown field {unknown[0]!r}", field="messages")
    if message.get("role") not in PROMPT_ROLES:
        raise Invalid(
            f"{where}: role must be one of {', '.join(PROMPT_ROLES)}, got {message.get('role')!r}", field="messages"
        )
    content = message.get("content")
    if not isinstance(content, str | dict | list):
        raise Invalid(f"{where}: content must be a string (or a JSON object or array)", field="messages")
    if not content or (isinstance(content, str) and not content.strip()):
        raise Invalid(f"{where}: content must not be empty", field="messages")
    return {"role": message["role"], "content": content}


def _check_messages(messages: JSON) -> list[dict[str, JSON]]:
    if not isinstance(messages, list) or not messages:
        raise Invalid("a prompt needs at least one message", field="messages")
    return [_check_message(m, f"message {n}") for n, m in enumerate(messages, start=1)]


def _check_parameters(parameters: JSON) -> dict[str, JSON]:
    if not isinstance(parameters, dict):
        raise Invalid('must be a JSON object, e.g. {"temperature": 0}', field="parameters")
    for key, value in parameters.items():
        if key in RESERVED_PARAMETERS:
            raise Invalid(f"{key!r} cannot be set here (see model, output_format)", field=f"parameters.{key}")
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if key in NUMBER_PARAMETERS and not number:
            raise Invalid(f"{key} must be a number, got {value!r}", field=f"parameters.{key}")
        if key == "max_tokens" and not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
            raise Invalid(f"max_tokens must be a positive integer, got {value!r}", field="parameters.max_tokens")
    return parameters


def _check_response_schema(schema: JSON, output_format: str) -> dict[str, JSON] | None:
    if schema is None:
        return None
    if not isinstance(schema, dict):
        raise Invalid("must be a JSON object (a JSON Schema)", field="response_schema")
    if output_format != "json":
        raise Invalid("needs output_format json", field="response_schema")
    from jsonschema import Draft202012Validator, SchemaError  # a heavy import, needed only here

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise Invalid(f"not a valid JSON Schema: {exc.message}", field="response_schema") from None
    return schema


owned_by_project(Prompt.Created, PromptVersion.Created)
