"""Prompt targets end to end: `prompts` commands, prompt experiments and runs in a worker, against a fake LLM."""

from __future__ import annotations

import json

import pytest

from agnt5_evals.adapters.bootstrap import build
from tests.cli.conftest import data, log_head, out
from tests.fakes.llm_server import FakeLLM

ORDERS = [(1, "shipped"), (2, "lost"), (3, "delayed")]
TEMPLATE = '{"order": {{ order_id }}, "status": "{{ status }}"}'


@pytest.fixture
def fake(monkeypatch):
    """The fake LLM; the environment variable is set before any run, so worker processes inherit it."""
    with FakeLLM() as server:
        monkeypatch.setenv("AGNT5_LLM_BASE_URL", server.base_url)
        yield server


@pytest.fixture
def orders(agnt5) -> tuple[str, str]:
    ds = out(agnt5("datasets", "create", "--name", "orders"))
    lines = [{"input": {"order_id": n, "status": s}, "expected_output": {"order": n, "status": s}} for n, s in ORDERS]
    agnt5("datasets", "upload", ds, input="\n".join(json.dumps(line) for line in lines))
    return ds, out(agnt5("datasets", "publish", ds))


def create_prompt(agnt5, *flags: str) -> str:
    return out(agnt5("prompts", "create", "--name", "order-status", "--model", "prompt-echo", *flags))


def create_experiment(agnt5, orders, prompt, *flags: str) -> str:
    return out(agnt5("experiments", "create", "--name", "prompt-exp", "--dataset-id", orders[0],
                     "--dataset-version-id", orders[1], "--target-type", "prompt", "--prompt-id", prompt,
                     "--config", '{"passed_threshold": 1}', *flags))  # fmt: skip


def run(agnt5, experiment: str, code: int = 0) -> dict:
    return data(agnt5("experiments", "run", experiment, "--wait", "--format", "json", code=code))


def pinned_version(run_id: str) -> str:
    with build() as svc:
        svc.catch_up()
        from agnt5_evals.projections import queries

        return str(queries.run(svc.view, run_id)["spec"]["target"]["prompt_version_id"])


def test_a_prompt_experiment_runs_scores_and_records_the_llm_call(agnt5, orders, fake):
    created = data(agnt5("prompts", "create", "--name", "order-status", "--model", "prompt-echo", "--template",
                         TEMPLATE, "--output-format", "json", "--parameters", '{"temperature": 0, "max_tokens": 50}',
                         "--format", "json"))  # fmt: skip
    assert (created["versions"], created["version"]["number"], created["latest_version_id"]) == (
        1, 1, created["version"]["id"])  # fmt: skip
    assert created["version"]["messages"] == [{"role": "user", "content": TEMPLATE}]
    experiment = create_experiment(agnt5, orders, created["id"], "--builtin-scorer", "exact_match",
                                   "--builtin-scorer", "json_valid")  # fmt: skip
    summary = run(agnt5, experiment)
    assert (summary["status"], summary["passed_items"], summary["gate"]["passed"]) == ("completed", 3, True)
    assert [(s["scorer"], s["passed"]) for s in summary["scorers"]] == [("exact_match", 3), ("json_valid", 3)]
    assert summary["total_tokens"] == 45 and summary["deployment_id"] is None

    rendered = '{"order": 2, "status": "lost"}'
    body = next(r["body"] for r in fake.requests if r["body"]["messages"][0]["content"] == rendered)
    expected = {"temperature": 0, "max_tokens": 50, "model": "prompt-echo", "response_format": {"type": "json_object"}}
    assert body == {**expected, "messages": [{"role": "user", "content": rendered}]}
    score = data(agnt5("scores", "list", "--run-id", summary["id"], "--format", "json"))[0]
    seen = data(agnt5("scores", "evidence", score["id"], "--include", "scorer_input"))["scorer_input"]
    assert seen["output"] == seen["expected_output"] == {"order": 1, "status": "shipped"}
    (call,) = [e for e in seen["events"] if e["event_type"] == "lm.call.completed"]
    usage = {key: call["data"][key] for key in ("model", "total_tokens", "input_tokens", "output_tokens")}
    assert usage == {"model": "prompt-echo", "total_tokens": 15, "input_tokens": 10, "output_tokens": 5}
    listed = data(agnt5("prompts", "list", "--format", "json"))
    assert [(p["name"], p["versions"]) for p in listed] == [("order-status", 1)]


def test_runs_take_the_latest_version_unless_one_is_pinned(agnt5, orders, fake):
    prompt = create_prompt(agnt5, "--template", TEMPLATE)
    latest = create_experiment(agnt5, orders, prompt, "--builtin-scorer", "exact_match")
    pinned = create_experiment(agnt5, orders, prompt, "--builtin-scorer", "exact_match", "--prompt-version-id", "1")
    v1 = data(agnt5("prompts", "versions", "list", prompt, "--format", "json"))[0]["id"]
    definition = data(agnt5("experiments", "list", "--format", "json"))[1]["definition"]
    assert definition["target"] == {"type": "prompt", "prompt_id": prompt, "prompt_version_id": v1}
    assert pinned_version(run(agnt5, latest)["id"]) == v1

    v2 = out(agnt5("prompts", "versions", "create", prompt, "--model", "prompt-echo", "--template",
                   '{"order": {{ order_id }}, "status": "unknown"}'))  # fmt: skip
    assert [v["number"] for v in data(agnt5("prompts", "versions", "list", prompt, "--format", "json"))] == [1, 2]
    moved = run(agnt5, latest, code=2)  # the new version answers "unknown": the gate fails
    assert (moved["failed_items"], pinned_version(moved["id"])) == (3, v2)
    kept = run(agnt5, pinned)
    assert (kept["passed_items"], pinned_version(kept["id"])) == (3, v1)
    versions = data(agnt5("experiments", "versions", "list", latest, "--format", "json"))
    assert len(versions) == 1  # the experiment's definition keeps "latest": no new experiment version


def test_an_answer_that_is_not_json_errors_the_item_under_json_only(agnt5, orders, fake):
    prompt = create_prompt(agnt5, "--template", "Where is order {{ order_id }}?", "--output-format", "json")
    experiment = create_experiment(agnt5, orders, prompt, "--builtin-scorer",
                                   '{"name": "contains", "config": {"pattern": "shipped"}}')  # fmt: skip
    agnt5("prompts", "versions", "create", prompt, "--model", "prompt-prose", "--template", "x", "--output-format",
          "json")  # fmt: skip
    summary = run(agnt5, experiment, code=2)
    assert (summary["status"], summary["errored_items"]) == ("completed", 3)
    failures = data(agnt5("reports", "failures", summary["id"], "--format", "json"))
    assert {f["error"] for f in failures} == {
        "PromptTargetError: the model's answer is not JSON: 'Sure! The order has shipped.'"}  # fmt: skip

    agnt5("prompts", "versions", "create", prompt, "--model", "prompt-prose", "--template", "x")  # text
    as_text = run(agnt5, experiment)
    assert (as_text["passed_items"], as_text["errored_items"]) == (3, 0)  # the raw answer, scored

    agnt5("prompts", "versions", "create", prompt, "--model", "prompt-fenced", "--template", TEMPLATE,
          "--output-format", "json")  # fmt: skip
    fenced = run(agnt5, experiment, code=2)  # contains "shipped": only order 1; all three parsed from the fence
    assert (fenced["passed_items"], fenced["failed_items"], fenced["errored_items"]) == (1, 2, 0)


def test_bad_prompt_input_is_one_line_exit_1_and_writes_nothing(agnt5, orders, tmp_path):
    prompt = create_prompt(agnt5, "--template", TEMPLATE)
    other = create_prompt(agnt5, "--template", TEMPLATE)
    before = log_head()
    cases = [
        (["prompts", "create", "--name", "x", "--model", "m"], "give exactly one of them"),
        (["prompts", "create", "--name", "x", "--model", "m", "--template", "a", "--messages", "[]"],
         "give exactly one of them"),
        (["prompts", "create", "--name", "x", "--model", "m", "--template", " "], "--template: must not be empty"),
        (["prompts", "create", "--name", "x", "--model", "m", "--messages", '{"role": "user"}'],
         "--messages: must be a JSON array"),
        (["prompts", "create", "--name", "x", "--model", "m", "--messages", '[{"role": "robot", "content": "hi"}]'],
         "--messages: message 1: role must be one of system, user, assistant"),
        (["prompts", "create", "--name", "", "--model", "m", "--template", "a"], "--name: must not be empty"),
        (["prompts", "create", "--name", "x", "--model", " ", "--template", "a"], "--model: must not be empty"),
        (["prompts", "create", "--name", "x", "--model", "m", "--template", "a", "--output-format", "yaml"],
         "--output-format: must be text or json"),
        (["prompts", "create", "--name", "x", "--model", "m", "--template", "a", "--parameters", "[0.2]"],
         "--parameters: must be a JSON object"),
        (["prompts", "create", "--name", "x", "--model", "m", "--file", str(tmp_path / "nope.md")],
         "--file: cannot read"),
        (["prompts", "versions", "create", orders[0], "--model", "m", "--template", "a"], "not found"),
        (["experiments", "create", "--name", "e", "--dataset-id", orders[0], "--dataset-version-id", orders[1],
          "--target-type", "prompt", "--builtin-scorer", "exact_match"], "--prompt-id: required"),
        (["experiments", "create", "--name", "e", "--dataset-id", orders[0], "--dataset-version-id", orders[1],
          "--target-type", "prompt", "--prompt-id", orders[0], "--builtin-scorer", "exact_match"],
         "--prompt-id: prompt"),
        (["experiments", "create", "--name", "e", "--dataset-id", orders[0], "--dataset-version-id", orders[1],
          "--target-type", "prompt", "--prompt-id", prompt, "--prompt-version-id", "2", "--builtin-scorer",
          "exact_match"], "--prompt-version-id: the prompt has no version 2"),
        (["experiments", "create", "--name", "e", "--dataset-id", orders[0], "--dataset-version-id", orders[1],
          "--target-type", "prompt", "--prompt-id", other, "--prompt-version-id",
          data(agnt5("prompts", "list", "--format", "json"))[0]["latest_version_id"], "--builtin-scorer",
          "exact_match"], "belongs to another prompt"),
    ]  # fmt: skip
    for args, message in cases:
        result = agnt5(*args, code=1)
        assert message in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""
    assert log_head() == before


def test_prompt_files_and_ignored_deployment(agnt5, orders, tmp_path):
    path = tmp_path / "order-status.mdx"
    path.write_text("<System>Answer in JSON.</System>\n<User>\nStatus of {{ order_id }}?\n</User>\n")
    prompt = create_prompt(agnt5, "--file", str(path))
    version = data(agnt5("prompts", "versions", "list", prompt, "--format", "json"))[0]
    assert version["messages"] == [{"role": "system", "content": "Answer in JSON."},
                                   {"role": "user", "content": "Status of {{ order_id }}?"}]  # fmt: skip
    result = agnt5("experiments", "create", "--name", "e", "--dataset-id", orders[0], "--dataset-version-id",
                   orders[1], "--target-type", "prompt", "--prompt-id", prompt, "--deployment-id", orders[0],
                   "--builtin-scorer", "exact_match", "--format", "json")  # fmt: skip
    assert "--deployment-id is ignored for prompt targets" in result.stderr
    assert data(result)["definition"]["target"] == {"type": "prompt", "prompt_id": prompt, "prompt_version_id": None}
