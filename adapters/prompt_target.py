"""Prompt targets: an immutable prompt version, rendered with each item's input and sent to an LLM (reference §5.6).

We execute prompts in our own worker, against the OpenAI-compatible endpoint of ``AGNT5_LLM_BASE_URL``
(``AGNT5_LLM_API_KEY``, ``AGNT5_LLM_TIMEOUT_S``): a prompt target needs no deployment.

* Variables: the item's input if it is an object, else ``{"input": <input>}``.
* Rendering: ``{{ path.to.var }}`` is a dotted lookup in the variables; an unresolved placeholder is left verbatim;
  strings are inserted raw, null as "", objects and arrays as compact JSON, anything else as ``str()``. A message
  content that is an object or array is rendered recursively, then sent as compact JSON.
* Request: ``{**parameters, model, messages}``; with output format ``json`` also ``response_format``
  (``json_object``, or ``json_schema`` when the version has a response schema).
* Output: ``json``: the answer parsed as JSON (raw or in a ``` fence), else a final error; ``text``: the answer
  parsed as JSON when it is JSON, else the raw text. No wrapper: scorers compare it with the expected output.
* Errors: a timeout or provider error is retried (``TransientError``); an auth error is final.
"""

from __future__ import annotations

import json
import re
from typing import Any
from uuid import UUID

from agnt5_evals.adapters import llm
from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.adapters.llm import LLMCall
from agnt5_evals.adapters.secrets import scrub
from agnt5_evals.adapters.targets import FACTORIES, Target
from agnt5_evals.domain.model import Deployment
from agnt5_evals.domain.prompts import PromptVersion
from agnt5_evals.domain.scoring.judges import JudgeCallError
from agnt5_evals.sdk import Context, TransientError

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}")
FENCE = re.compile(r"```[A-Za-z]*\s*\n?(.*?)\n?\s*```", re.DOTALL)
RETRIED = ("timeout_error", "provider_error")


class PromptTargetError(Exception):
    """A final (not retried) failure of a prompt target: no endpoint, refused credentials, an unusable answer."""


# -- rendering ---------------------------------------------------------------------------------------


def variables_of(payload: Any) -> dict[str, Any]:
    """The template variables of an item input: the input itself if it is an object, else ``{"input": input}``."""
    return payload if isinstance(payload, dict) else {"input": payload}


def stringify(value: Any) -> str:
    """How a variable is inserted: strings raw, null as "", objects and arrays as compact JSON, else ``str()``."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _resolve(variables: dict[str, Any], match: re.Match[str]) -> str:
    value: Any = variables
    for part in match.group(1).split("."):
        if not (isinstance(value, dict) and part in value):
            return match.group(0)  # unresolved: left verbatim
        value = value[part]
    return stringify(value)


def render_text(template: str, variables: dict[str, Any]) -> str:
    """Replace every resolvable ``{{ path.to.var }}`` of a template."""
    return PLACEHOLDER.sub(lambda match: _resolve(variables, match), template)


def _render_nested(value: Any, variables: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return render_text(value, variables)
    if isinstance(value, list):
        return [_render_nested(item, variables) for item in value]
    if isinstance(value, dict):
        return {key: _render_nested(item, variables) for key, item in value.items()}
    return value


def render_messages(messages: list[dict[str, Any]], payload: Any) -> list[dict[str, str]]:
    """The chat messages for one item input; structured contents become compact JSON after rendering."""
    variables = variables_of(payload)
    rendered = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, dict | list):
            text = json.dumps(_render_nested(content, variables), separators=(",", ":"))
        else:
            text = render_text(content, variables) if isinstance(content, str) else stringify(content)
        rendered.append({"role": str(message["role"]), "content": text})
    return rendered


def build_request(version: PromptVersion, payload: Any) -> dict[str, Any]:
    """The chat-completions request of one item: parameters, model, rendered messages, response format."""
    request: dict[str, Any] = {
        **version.parameters,
        "model": version.model,
        "messages": render_messages(version.messages, payload),
    }
    if version.output_format == "json":
        schema = version.response_schema
        request["response_format"] = (
            {"type": "json_schema", "json_schema": {"name": "response", "schema": schema}}
            if schema is not None
            else {"type": "json_object"}
        )
    return request


# -- the answer ---------------------------------------------------------------------------------------


def parse_output(text: str, output_format: str) -> Any:
    """The output scorers see: JSON when it is JSON; under ``json``, a final error when it is not."""
    body = text.strip()
    try:
        return json.loads(body)
    except ValueError:
        pass
    if output_format != "json":
        return text
    fenced = FENCE.search(body)
    if fenced is not None:
        try:
            return json.loads(fenced.group(1))
        except ValueError:
            pass
    raise PromptTargetError(f"the model's answer is not JSON: {text[:200]!r}")


def answer_text(response: dict[str, Any]) -> str:
    """The first choice's message content (a final error when the response has none)."""
    try:
        content = response["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        content = None
    if not isinstance(content, str):
        raise PromptTargetError(f"the response has no message content: {json.dumps(response)[:200]}")
    return content


def _count(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def record_usage(ctx: Context, response: dict[str, Any], model: str) -> None:
    """Record the call as ``lm.call.completed`` with the response's model and token usage."""
    usage = response.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    ctx.llm_call(
        str(response.get("model") or model),
        total_tokens=_count(usage.get("total_tokens")),
        input_tokens=_count(usage.get("prompt_tokens")),
        output_tokens=_count(usage.get("completion_tokens")),
        role="prompt",
    )


# -- the target -----------------------------------------------------------------------------------------


class PromptTarget:
    """One prompt version and an LLM client; called as ``target(ctx, input)`` per item."""

    def __init__(self, version: PromptVersion, call: LLMCall) -> None:
        self.version = version
        self.call = call

    def __call__(self, ctx: Context, payload: Any) -> Any:
        request = build_request(self.version, payload)
        try:
            response = scrub(self.call(request))  # any LLMCall, not only our client: no echoed key is kept
        except JudgeCallError as exc:
            ctx.llm_call(self.version.model, role="prompt", failed=True)
            if exc.kind in RETRIED:
                raise TransientError(scrub(f"{exc.kind}: {exc}")) from exc
            raise PromptTargetError(scrub(f"{exc.kind}: {exc}")) from exc
        record_usage(ctx, response, self.version.model)
        return parse_output(answer_text(response), self.version.output_format)


def _prompt(services: Services, target: dict[str, Any], deployment: Deployment | None) -> Target:
    """The adapter of a prompt target; a deployment, if the experiment names one, plays no part."""
    pinned = services.app.pin_prompt_version(target)["prompt_version_id"]
    version = services.app.get(PromptVersion, UUID(str(pinned)), "prompt version")
    client = llm.from_env()
    if client is None:
        raise PromptTargetError("no LLM endpoint: set AGNT5_LLM_BASE_URL (and AGNT5_LLM_API_KEY) for prompt targets")
    return PromptTarget(version, client)


FACTORIES["prompt"] = _prompt
