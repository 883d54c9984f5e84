"""Prompt and PromptVersion without a store: versions, deterministic ids, and every content rule."""

from __future__ import annotations

from uuid import uuid4

import pytest

from agnt5_evals.domain import ids
from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.prompts import Prompt, PromptVersion
from tests.support import replayed

CONTENT = {"messages": [{"role": "user", "content": "Hi {{name}}"}], "model": " gpt-x ", "parameters": {}}


def test_a_prompt_numbers_its_versions_and_knows_the_latest():
    prompt = Prompt(name="p", description="")
    assert (prompt.versions, prompt.next_version_number, prompt.latest_version_id) == (0, 1, None)
    first, second = (ids.prompt_version_id(prompt.id, n) for n in (1, 2))
    prompt.record_version(version_id=first, number=1)
    prompt.record_version(version_id=second, number=2)
    names, copy = replayed(prompt)
    assert names == ["Prompt.Created", "Prompt.VersionAdded", "Prompt.VersionAdded"]
    assert (copy.versions, copy.next_version_number, copy.latest_version_id) == (2, 3, second)


def test_a_prompt_version_has_a_deterministic_id_and_keeps_its_content():
    prompt_id = uuid4()
    content = PromptVersion.check_content(CONTENT)
    version = PromptVersion(prompt_id=prompt_id, number=2, **content)
    assert version.id == PromptVersion.create_id(prompt_id, 2) == ids.prompt_version_id(prompt_id, 2)
    names, copy = replayed(version)
    assert names == ["PromptVersion.Created"]
    assert (copy.model, copy.messages, copy.output_format, copy.response_schema) == (
        "gpt-x", CONTENT["messages"], "text", None)  # fmt: skip


def test_content_defaults_and_a_json_schema_under_json_output():
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    content = PromptVersion.check_content({**CONTENT, "output_format": "json", "response_schema": schema,
                                           "parameters": {"temperature": 0, "max_tokens": 5}})  # fmt: skip
    assert (content["output_format"], content["response_schema"], content["parameters"]) == (
        "json", schema, {"temperature": 0, "max_tokens": 5})  # fmt: skip


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": "  "}, "model: must not be empty"),
        ({"model": None}, "model: must not be empty"),
        ({"output_format": "xml"}, "output_format: must be text or json, got 'xml'"),
        ({"messages": []}, "messages: a prompt needs at least one message"),
        ({"messages": ["hi"]}, r"messages: message 1: must be an object \{role, content\}"),
        ({"messages": [{"role": "user", "content": "x", "name": "n"}]}, "message 1: unknown field 'name'"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "message 1: role must be one of system, user, assistant"),
        ({"messages": [{"role": "user", "content": 3}]}, "message 1: content must be a string"),
        ({"messages": [{"role": "user", "content": "  "}]}, "message 1: content must not be empty"),
        ({"parameters": []}, "parameters: must be a JSON object"),
        ({"parameters": {"model": "x"}}, "parameters.model: 'model' cannot be set here"),
        ({"parameters": {"temperature": "hot"}}, "parameters.temperature: temperature must be a number"),
        ({"parameters": {"top_p": True}}, "parameters.top_p: top_p must be a number"),
        ({"parameters": {"max_tokens": 0}}, "parameters.max_tokens: max_tokens must be a positive integer"),
        ({"response_schema": []}, "response_schema: must be a JSON object"),
        ({"response_schema": {"type": "object"}}, "response_schema: needs output_format json"),
        ({"output_format": "json", "response_schema": {"type": 5}}, "response_schema: not a valid JSON Schema"),
    ],
)
def test_bad_content_is_refused_naming_the_field(change, message):
    with pytest.raises(Invalid, match=message):
        PromptVersion.check_content({**CONTENT, **change})
