"""Prompt targets without a network: rendering (reference §5.6), the request, the output and the error mapping."""

from __future__ import annotations

import re
from typing import Any
from uuid import uuid4

import pytest

from agnt5_evals import Context, TransientError
from agnt5_evals.adapters.prompt_target import (
    PromptTarget,
    PromptTargetError,
    build_request,
    parse_output,
    render_messages,
    render_text,
    variables_of,
)
from agnt5_evals.cli.prompts import file_messages
from agnt5_evals.domain.prompts import PromptVersion
from agnt5_evals.domain.scoring.judges import JudgeCallError

VARIABLES = {"name": "Ada", "order": {"id": 7, "items": ["a", "b"], "note": None, "paid": True, "total": 1.5}}


def version(template: Any = "Hi {{ name }}", output_format: str = "text", **changes: Any) -> PromptVersion:
    content = {"messages": [{"role": "user", "content": template}], "model": "m", "parameters": {},
               "output_format": output_format, "response_schema": None, **changes}  # fmt: skip
    return PromptVersion(prompt_id=uuid4(), number=1, **content)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Hello {{ name }}!", "Hello Ada!"),
        ("{{name}}/{{  name  }}", "Ada/Ada"),
        ("order {{ order.id }}", "order 7"),  # numbers as str()
        ("{{ order.items }}", '["a","b"]'),  # arrays and objects as compact JSON
        ("{{ order }}", '{"id":7,"items":["a","b"],"note":null,"paid":true,"total":1.5}'),
        ("[{{ order.note }}]", "[]"),  # null as ""
        ("{{ order.paid }} {{ order.total }}", "True 1.5"),
        ("{{ missing }} and {{ order.missing }}", "{{ missing }} and {{ order.missing }}"),  # left verbatim
        ("{{ order.id.deeper }} {{ order.items.0 }}", "{{ order.id.deeper }} {{ order.items.0 }}"),  # no list index
        ("{{ 1bad }} {{ na me }}", "{{ 1bad }} {{ na me }}"),  # not placeholders
    ],
)
def test_render_text(template, expected):
    assert render_text(template, VARIABLES) == expected


def test_variables_are_the_input_object_or_wrap_it():
    assert variables_of({"a": 1}) == {"a": 1}
    assert variables_of("text") == {"input": "text"}
    assert variables_of([1, 2]) == {"input": [1, 2]}
    assert variables_of(None) == {"input": None}
    assert render_messages([{"role": "user", "content": "Q: {{ input }}"}], "why?") == [
        {"role": "user", "content": "Q: why?"}
    ]
    assert render_messages([{"role": "user", "content": "{{ input }}"}], {"q": 1})[0]["content"] == "{{ input }}"


def test_structured_content_is_rendered_then_sent_as_compact_json():
    structured = {"task": "status of {{ order.id }}", "tags": ["{{ name }}", 3]}
    messages = [{"role": "system", "content": "Be brief, {{ name }}."}, {"role": "user", "content": structured}]
    assert render_messages(messages, VARIABLES) == [
        {"role": "system", "content": "Be brief, Ada."},
        {"role": "user", "content": '{"task":"status of 7","tags":["Ada",3]}'},
    ]


def test_request_carries_model_parameters_and_response_format():
    text = build_request(version(parameters={"temperature": 0, "max_tokens": 20}), {"name": "Ada"})
    assert text == {"temperature": 0, "max_tokens": 20, "model": "m",
                    "messages": [{"role": "user", "content": "Hi Ada"}]}  # fmt: skip
    assert build_request(version(output_format="json"), {})["response_format"] == {"type": "json_object"}
    schema = {"type": "object"}
    structured = build_request(version(output_format="json", response_schema=schema), {})["response_format"]
    assert structured == {"type": "json_schema", "json_schema": {"name": "response", "schema": schema}}


@pytest.mark.parametrize(
    ("answer", "output_format", "expected"),
    [
        ('{"a": 1}', "json", {"a": 1}),
        (" [1, 2]\n", "json", [1, 2]),
        ('Sure:\n```json\n{"a": 1}\n```\nDone.', "json", {"a": 1}),
        ('```\n"x"\n```', "json", "x"),
        ('{"a": 1}', "text", {"a": 1}),
        ("42", "text", 42),
        ("It shipped.", "text", "It shipped."),
        ('```json\n{"a": 1}\n```', "text", '```json\n{"a": 1}\n```'),  # text: only a raw JSON answer is parsed
    ],
)
def test_output(answer, output_format, expected):
    assert parse_output(answer, output_format) == expected


def test_an_answer_that_is_not_json_is_a_final_error_under_json():
    with pytest.raises(PromptTargetError, match=re.escape("the model's answer is not JSON: 'It shipped.'")):
        parse_output("It shipped.", "json")
    with pytest.raises(PromptTargetError, match="not JSON"):
        parse_output("```json\n{broken\n```", "json")


def completion(content: Any, usage: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"model": "m-2024", "choices": [{"message": {"role": "assistant", "content": content}}],
            "usage": usage or {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}}  # fmt: skip


def test_a_call_records_the_model_and_token_usage():
    requests: list[dict[str, Any]] = []
    target = PromptTarget(version(), lambda request: requests.append(request) or completion('{"ok": true}'))
    ctx = Context("run-item")
    assert target(ctx, {"name": "Ada"}) == {"ok": True}
    assert requests[0]["messages"] == [{"role": "user", "content": "Hi Ada"}]
    (event,) = ctx.events
    assert event["event_type"] == "lm.call.completed"
    assert event["data"] == {"model": "m-2024", "total_tokens": 15, "input_tokens": 12, "output_tokens": 3,
                             "role": "prompt"}  # fmt: skip


def test_a_response_without_content_is_a_final_error():
    with pytest.raises(PromptTargetError, match="no message content"):
        PromptTarget(version(), lambda request: {"choices": []})(Context(), {})
    with pytest.raises(PromptTargetError, match="no message content"):
        PromptTarget(version(), lambda request: completion(None))(Context(), {})


@pytest.mark.parametrize(("kind", "error"), [("timeout_error", TransientError), ("provider_error", TransientError),
                                             ("auth_error", PromptTargetError)])  # fmt: skip
def test_call_errors_are_retried_or_final_by_kind(kind, error):
    def failing(request: dict[str, Any]) -> dict[str, Any]:
        raise JudgeCallError(kind, "HTTP 4xx/5xx")

    ctx = Context()
    with pytest.raises(error, match=f"{kind}: HTTP"):
        PromptTarget(version(), failing)(ctx, {})
    assert [e["event_type"] for e in ctx.events] == ["lm.call.failed"]


def test_prompt_files_split_into_messages():
    text = "<System>\nYou are terse.\n</System>\n<user>Status of {{ order_id }}?</user>\n<Assistant>ok</Assistant>"
    assert file_messages(text, "p.mdx") == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Status of {{ order_id }}?"},
        {"role": "assistant", "content": "ok"},
    ]
    assert file_messages("Just {{ input }}\n", "p.txt") == [{"role": "user", "content": "Just {{ input }}"}]
