"""Prompts and their immutable versions; prompt targets of experiments, runs and their execution (both stores)."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4, uuid5

import pytest
from eventsourcing.persistence import IntegrityError

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.domain.errors import Invalid, NotFound
from agnt5_evals.domain.prompts import Prompt, PromptVersion
from agnt5_evals.domain.runs import Run
from agnt5_evals.domain.scoring import parse_scorer_spec, with_keys
from agnt5_evals.projections import queries
from tests.fakes.llm_server import FakeLLM
from tests.support import execute

CONTENT: dict[str, Any] = {
    "messages": [{"role": "system", "content": "Answer in JSON."}, {"role": "user", "content": "{{ q }}"}],
    "model": "prompt-echo",
    "parameters": {"temperature": 0, "max_tokens": 64},
    "output_format": "text",
}


def content(**changes: Any) -> dict[str, Any]:
    return {**CONTENT, **changes}


def head(services: Services) -> int:
    return services.app.recorder.max_notification_id() or 0


def test_create_saves_the_prompt_and_its_version_1_together(services):
    app = services.app
    written = app.create_prompt("  support  ", content(), "answers support questions")
    assert written.number == 1 and written.position == head(services)
    prompt = app.get(Prompt, written.id, "prompt")
    v1 = app.get(PromptVersion, uuid5(written.id, "version-1"), "prompt version")
    assert (prompt.name, prompt.versions, prompt.latest_version_id) == ("support", 1, v1.id)
    assert (v1.prompt_id, v1.number, v1.model, v1.output_format) == (written.id, 1, "prompt-echo", "text")
    assert (v1.messages, v1.parameters, v1.response_schema) == (CONTENT["messages"], CONTENT["parameters"], None)
    services.catch_up()
    row = queries.prompt(services.view, str(written.id))
    assert (row["name"], row["versions"], row["latest_version_id"]) == ("support", 1, str(v1.id))
    (version_row,) = queries.prompt_versions(services.view, str(written.id))
    assert (version_row["id"], version_row["messages"], version_row["parameters"]) == (
        str(v1.id), CONTENT["messages"], CONTENT["parameters"])  # fmt: skip


def test_versions_are_numbered_and_never_change(services):
    app = services.app
    prompt_id = app.create_prompt("p", content()).id
    v2 = app.create_prompt_version(prompt_id, content(model="other", output_format="json"))
    v3 = app.create_prompt_version(prompt_id, content(response_schema={"type": "object"}, output_format="json"))
    assert (v2.number, v3.number) == (2, 3)
    assert [v2.id, v3.id] == [uuid5(prompt_id, "version-2"), uuid5(prompt_id, "version-3")]
    v1 = app.get(PromptVersion, uuid5(prompt_id, "version-1"), "prompt version")
    assert (v1.model, v1.output_format, v1.version) == ("prompt-echo", "text", 1)  # one event: never changed
    assert app.get(Prompt, prompt_id, "prompt").latest_version_id == v3.id
    rewrite = PromptVersion(prompt_id=prompt_id, number=2, **PromptVersion.check_content(content(model="x")))
    with pytest.raises(IntegrityError):  # a version's id is deterministic: a second "version 2" collides
        app.save(rewrite)
    assert app.get(PromptVersion, v2.id, "prompt version").model == "other"
    services.catch_up()
    rows = queries.prompt_versions(services.view, str(prompt_id))
    assert [(r["number"], r["model"], r["response_schema"]) for r in rows] == [
        (1, "prompt-echo", None), (2, "other", None), (3, "prompt-echo", {"type": "object"})]  # fmt: skip
    assert queries.prompt(services.view, str(prompt_id))["versions"] == 3


INVALID = [
    ({"messages": []}, "messages: a prompt needs at least one message"),
    ({"messages": "hi"}, "messages: a prompt needs at least one message"),
    ({"messages": [{"role": "bot", "content": "x"}]}, "messages: message 1: role must be one of system"),
    ({"messages": [{"role": "user", "content": " "}]}, "messages: message 1: content must not be empty"),
    ({"messages": [{"role": "user", "content": "x", "name": "n"}]}, "messages: message 1: unknown field 'name'"),
    ({"model": ""}, "model: must not be empty"),
    ({"model": None}, "model: must not be empty"),
    ({"output_format": "xml"}, "output_format: must be text or json, got 'xml'"),
    ({"parameters": [1]}, "parameters: must be a JSON object"),
    ({"parameters": {"temperature": "hot"}}, "parameters.temperature: temperature must be a number"),
    ({"parameters": {"max_tokens": 0}}, "parameters.max_tokens: max_tokens must be a positive integer"),
    ({"parameters": {"model": "x"}}, "parameters.model: 'model' cannot be set here"),
    ({"response_schema": {"type": "object"}}, "response_schema: needs output_format json"),
    ({"response_schema": [1], "output_format": "json"}, "response_schema: must be a JSON object"),
    ({"response_schema": {"type": 5}, "output_format": "json"}, "response_schema: not a valid JSON Schema"),
]


@pytest.mark.parametrize(("changes", "message"), INVALID)
def test_invalid_content_is_rejected_and_writes_nothing(services, changes, message):
    app = services.app
    prompt_id = app.create_prompt("p", content()).id
    before = head(services)
    with pytest.raises(Invalid, match=message):
        app.create_prompt("q", content(**changes))
    with pytest.raises(Invalid, match=message):
        app.create_prompt_version(prompt_id, content(**changes))
    with pytest.raises(Invalid, match="name: must not be empty"):
        app.create_prompt(" ", content())
    with pytest.raises(NotFound, match=r"prompt .* not found"):
        app.create_prompt_version(uuid4(), content())
    assert head(services) == before
    assert app.get(Prompt, prompt_id, "prompt").versions == 1


def dataset(services: Services, items: list[dict[str, Any]]) -> tuple[UUID, UUID]:
    ds = services.app.create_dataset("questions")
    services.app.add_items(ds.id, items)
    return ds.id, services.app.publish(ds.id).id


def definition(ds: tuple[UUID, UUID], prompt_id: UUID, pinned: UUID | None = None, **config: Any) -> dict[str, Any]:
    return {
        "dataset_id": str(ds[0]),
        "dataset_version_id": str(ds[1]),
        "target": {"type": "prompt", "prompt_id": str(prompt_id), "prompt_version_id": pinned and str(pinned)},
        "scorers": with_keys([parse_scorer_spec("exact_match")]),
        "config": config,
    }


def test_experiments_check_the_prompt_and_its_pinned_version(services):
    app = services.app
    ds = dataset(services, [{"input": {"q": "hi"}, "expected_output": "hi"}])
    mine, other = app.create_prompt("mine", content()).id, app.create_prompt("other", content()).id
    before = head(services)
    with pytest.raises(NotFound, match=r"target.prompt_id: prompt .* not found"):
        app.create_experiment("e", "", definition(ds, uuid4()))
    with pytest.raises(NotFound, match=r"target.prompt_version_id: prompt version .* not found"):
        app.create_experiment("e", "", definition(ds, mine, uuid5(mine, "version-2")))
    with pytest.raises(Invalid, match=r"target.prompt_version_id: version .* belongs to another prompt"):
        app.create_experiment("e", "", definition(ds, mine, uuid5(other, "version-1")))
    with pytest.raises(NotFound, match=r"target\.prompt_id"):  # a Dataset id is no prompt id
        app.create_experiment("e", "", definition(ds, ds[0]))
    assert head(services) == before
    app.create_experiment("e", "", definition(ds, mine, uuid5(mine, "version-1")))


def test_a_run_snapshots_the_latest_version_unless_one_is_pinned(services):
    app = services.app
    ds = dataset(services, [{"input": {"q": "hi"}, "expected_output": "hi"}])
    prompt_id = app.create_prompt("p", content()).id
    v1 = uuid5(prompt_id, "version-1")
    latest = app.create_experiment("latest", "", definition(ds, prompt_id)).id
    pinned = app.create_experiment("pinned", "", definition(ds, prompt_id, v1)).id
    first = app.get(Run, app.start_run(latest).id, "run")
    assert first.spec["target"]["prompt_version_id"] == str(v1)
    v2 = app.create_prompt_version(prompt_id, content(model="other")).id
    second = app.get(Run, app.start_run(latest).id, "run")
    assert second.spec["target"]["prompt_version_id"] == str(v2)
    assert second.experiment_version_id == first.experiment_version_id  # the definition did not change ...
    services.catch_up()
    version_row = queries.experiment_version(services.view, str(first.experiment_version_id))
    assert version_row["definition"]["target"]["prompt_version_id"] is None  # ... and keeps "the latest"
    assert app.get(Run, app.start_run(pinned).id, "run").spec["target"]["prompt_version_id"] == str(v1)


@pytest.fixture
def fake(monkeypatch):
    with FakeLLM() as server:
        monkeypatch.setenv("AGNT5_LLM_BASE_URL", server.base_url)
        yield server


def run_prompt(services: Services, model: str, output_format: str = "text") -> tuple[str, list[dict[str, Any]]]:
    app = services.app
    ds = dataset(services, [{"input": {"q": '{"a": 1}'}, "expected_output": {"a": 1}},
                            {"input": {"q": "plain"}, "expected_output": "plain"}])  # fmt: skip
    prompt_id = app.create_prompt("p", content(model=model, output_format=output_format)).id
    experiment = app.create_experiment("e", "", definition(ds, prompt_id, retry_backoff_s=0.01))
    run = app.start_run(experiment.id)
    status = execute(services, run.id)
    services.catch_up()
    return status, queries.run_items(services.view, str(run.id))


def test_execution_renders_calls_and_parses(services, fake):
    status, items = run_prompt(services, "prompt-echo")
    assert status == "completed"
    assert [(i["status"], i["output"], i["tokens"], i["attempts"]) for i in items] == [
        ("passed", {"a": 1}, 15, 1), ("passed", "plain", 15, 1)]  # fmt: skip
    completed = [e for e in items[0]["events"] if e["event_type"] == "lm.call.completed"]
    assert [e["data"]["model"] for e in completed] == ["prompt-echo"]
    bodies = [r["body"] for r in fake.requests]
    assert {b["messages"][1]["content"] for b in bodies} == {'{"a": 1}', "plain"}
    assert all(b["temperature"] == 0 and b["max_tokens"] == 64 and "response_format" not in b for b in bodies)


def test_answers_that_are_not_json_are_errored_items_under_json(services, fake):
    status, items = run_prompt(services, "prompt-echo", "json")
    assert status == "completed"
    assert [i["status"] for i in items] == ["passed", "errored"]
    assert items[1]["error"] == "PromptTargetError: the model's answer is not JSON: 'plain'"
    assert items[1]["attempts"] == 1 and items[1]["scores"] == []  # final: not retried, not scored
    assert fake.requests[0]["body"]["response_format"] == {"type": "json_object"}


def test_provider_errors_are_retried_and_auth_errors_are_final(services, fake):
    _, broken = run_prompt(services, "judge-broken")
    assert [(i["status"], i["attempts"]) for i in broken] == [("errored", 3), ("errored", 3)]
    assert broken[0]["error"].startswith("TransientError: provider_error: HTTP 500")
    assert [e["event_type"] for e in broken[0]["events"]].count("lm.call.failed") == 3
    _, denied = run_prompt(services, "judge-denied")
    assert [(i["status"], i["attempts"]) for i in denied] == [("errored", 1), ("errored", 1)]
    assert denied[0]["error"].startswith("PromptTargetError: auth_error: HTTP 401")


def test_without_an_endpoint_the_run_fails_naming_it(services, monkeypatch):
    monkeypatch.delenv("AGNT5_LLM_BASE_URL", raising=False)
    status, items = run_prompt(services, "prompt-echo")
    assert status == "failed" and items == []
    (experiment,) = queries.experiments(services.view)
    (run,) = queries.runs(services.view, experiment["id"])
    assert run["reason"].startswith("PromptTargetError: no LLM endpoint: set AGNT5_LLM_BASE_URL")
