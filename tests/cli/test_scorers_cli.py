"""Custom scorers, judges in a run, and `scorers list|create|test`, end to end on each store."""

from __future__ import annotations

import json
import textwrap
from uuid import UUID

import pytest

from agnt5_evals.adapters.bootstrap import build
from agnt5_evals.domain.runs import Run
from tests.cli.conftest import data, log_head, out
from tests.fakes.llm_server import FakeLLM

SCORERS = '''
from agnt5_evals import scorer


@scorer("word_count_match")
def word_count_match(request):
    """The C-CONF contract: compare word counts of output and expected."""
    same = request["output"] == request["expected"]
    return {"score": 1 if same else 0, "passed": same, "label": "same" if same else "diff"}


@scorer("cites_order")
def cites_order(ctx, request):
    text = str(request["output"])
    hit = str(request["input"]["order_id"]) in text
    return {"score": 1.0 if hit else 0.0, "explanation": "cites the order id" if hit else "no order id",
            "metadata": {"config": request["config"], "n_events": len(request["events"])}}


@scorer("garbage")
def garbage(request):
    return "not a result"


@scorer("raises")
def raises(request):
    raise ValueError("scorer bug")
'''


@pytest.fixture
def scorer_deployment(agnt5, agent_dir):
    (agent_dir / "my_scorers.py").write_text(textwrap.dedent(SCORERS))
    return out(agnt5("deployments", "create", "--name", "scorers", "--module", "my_scorers", "--path", str(agent_dir)))


def create_scorer(agnt5, deployment, name, component, code=0):
    return agnt5("scorers", "create", "--name", name, "--deployment-id", deployment, "--component-name", component,
                 code=code)  # fmt: skip


def test_custom_scorers_in_a_run_with_errored_scores_kept_apart(agnt5, page, scorer_deployment):
    cites = out(create_scorer(agnt5, scorer_deployment, "cites-order", "cites_order"))
    garbage = out(create_scorer(agnt5, scorer_deployment, "garbage-scorer", "garbage"))
    raises = out(create_scorer(agnt5, scorer_deployment, "raising-scorer", "raises"))
    exp = out(agnt5("experiments", "create", "--name", "custom", "--dataset-id", page["dataset"],
                    "--dataset-version-id", page["version"], "--deployment-id", page["good"], "--component-name",
                    "support_agent", "--component-type", "agent", "--scorer-id", cites, "--scorer-id", garbage,
                    "--scorer-id", raises, "--config", '{"passed_threshold": 0}'))  # fmt: skip
    summary = data(agnt5("experiments", "run", exp, "--wait", "--format", "json"))
    by_name = {s["scorer"]: s for s in summary["scorers"]}
    assert (by_name["cites-order"]["passed"], by_name["cites-order"]["mean_score"]) == (6, 1.0)
    assert (by_name["garbage-scorer"]["errored"], by_name["garbage-scorer"]["failed"]) == (6, 0)
    assert by_name["raising-scorer"]["errored"] == 6
    scores = data(agnt5("scores", "list", "--run-id", summary["id"], "--format", "json"))
    raised = next(s for s in scores if s["scorer_key"] == "raising-scorer")
    assert (raised["errored"], raised["label"], raised["explanation"]) == (True, "error", "ValueError: scorer bug")
    cited = next(s for s in scores if s["scorer_key"] == "cites-order")
    evidence = data(agnt5("scores", "evidence", cited["id"]))
    assert evidence["scorer_output"]["metadata"]["n_events"] >= 2
    rows = agnt5("reports", "export", summary["id"], "--layout", "scores").stdout.splitlines()
    assert any(",raising-scorer,0.0,False,True,error," in row for row in rows)
    with build() as svc:  # each custom scorer's code is recorded with the run, as the target's is
        recorded = svc.app.get(Run, UUID(summary["id"]), "run").spec["scorers"]
    assert {(s["code_digest"] or "")[:7] for s in recorded} == {"sha256:"} and {s["editable"] for s in recorded} == {
        False
    }


def test_scorer_create_rejects_bad_input_and_writes_nothing(agnt5, page, scorer_deployment):
    before = log_head()
    assert "is a built-in scorer" in create_scorer(agnt5, scorer_deployment, "exact_match", "cites_order", 1).stderr
    assert "is a agent, not a scorer" in create_scorer(agnt5, page["good"], "x", "support_agent", 1).stderr
    assert "has no component 'nope'" in create_scorer(agnt5, scorer_deployment, "x", "nope", 1).stderr
    missing = "00000000-0000-4000-8000-000000000000"
    result = agnt5(*["experiments", "create", "--name", "x", "--dataset-id", page["dataset"], "--dataset-version-id",
                     page["version"], "--deployment-id", page["good"], "--component-name", "support_agent",
                     "--component-type", "agent", "--scorer-id", missing], code=1)  # fmt: skip
    assert f"--scorer-id: scorer {missing} not found" in result.stderr
    assert log_head() == before


@pytest.mark.local_only  # scorers test --scorer-id runs the scorer's code on this machine
def test_scorers_test_on_a_file_and_on_stdin(agnt5, scorer_deployment, tmp_path):
    word_count = out(create_scorer(agnt5, scorer_deployment, "word-count", "word_count_match"))
    cases = tmp_path / "cases.jsonl"
    cases.write_text("\n".join(json.dumps(c) for c in [
        {"output": {"word_count": 3}, "expected_output": {"word_count": 3}},
        {"output": {"word_count": 3}, "expected_output": {"word_count": 4}, "input": {"text": "one two three"}},
    ]))  # fmt: skip
    lines = [json.loads(x) for x in out(agnt5("scorers", "test", "--scorer-id", word_count, "--cases", str(cases)))
             .splitlines()]  # fmt: skip
    assert [(r["score"], r["passed"], r["label"]) for r in lines] == [(1.0, True, "same"), (0.0, False, "diff")]
    assert set(lines[0]) == {"score", "passed", "label", "explanation", "metadata", "errored"}
    stdin = '{"output": "hello world"}\n{"output": "bye"}\n'
    builtin = out(agnt5("scorers", "test", "--builtin-scorer", '{"name":"contains","config":{"pattern":"world"}}',
                        "--cases", "-", input=stdin))  # fmt: skip
    assert [json.loads(x)["label"] for x in builtin.splitlines()] == ["found", "not_found"]
    bad = agnt5("scorers", "test", "--builtin-scorer", "json_valid", "--cases", "-", input='{"x": 1}\n', code=1)
    assert "line 1: a case is an object with an 'output' field" in bad.stderr


def test_scorers_list_shows_builtins_with_config_and_custom_ones(agnt5, scorer_deployment):
    create_scorer(agnt5, scorer_deployment, "cites-order", "cites_order")
    rows = data(agnt5("scorers", "list", "--format", "json"))
    names = {r["name"]: r for r in rows}
    assert names["contains"]["requires_config"] is True and "pattern" in names["contains"]["config"]
    assert names["llm_judge"]["kind"] == "judge"
    assert names["cites-order"]["kind"] == "custom" and names["cites-order"]["id"]


def test_judge_scorer_in_a_run_records_request_and_response(agnt5, page, monkeypatch):
    with FakeLLM() as fake:
        monkeypatch.setenv("AGNT5_LLM_BASE_URL", fake.base_url)
        judge = '{"name":"llm_judge","config":{"criteria":"Gives the order status","model":"judge-good"}}'
        garbage = '{"name":"llm_judge","config":{"criteria":"c","model":"judge-garbage"}}'
        exp = out(agnt5("experiments", "create", "--name", "judged", "--dataset-id", page["dataset"],
                        "--dataset-version-id", page["version"], "--deployment-id", page["good"], "--component-name",
                        "support_agent", "--component-type", "agent", "--builtin-scorer", judge,
                        "--builtin-scorer", garbage))  # fmt: skip
        summary = data(agnt5("experiments", "run", exp, "--wait", "--format", "json", code=2))
    judged = {s["scorer"]: s for s in summary["scorers"]}
    assert judged["llm_judge#1"]["passed"] == 6 and judged["llm_judge#2"]["errored"] == 6
    scores = data(agnt5("scores", "list", "--run-id", summary["id"], "--format", "json"))
    evidence = data(agnt5("scores", "evidence", scores[0]["id"], "--include", "evidence"))["evidence"]
    assert evidence["judge_request"]["model"] == "judge-good"
    assert evidence["judge_response"]["choices"][0]["message"]["content"].startswith("{")
