"""The item page: values side by side with their diff, the error and stack trace, the trace timeline, each score's
evidence, annotations (CSRF, the API's checks and messages), neighbours; every value shown as text."""

from __future__ import annotations

import html
import re
import textwrap
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.adapters.components import discover
from agnt5_evals.domain.scoring import parse_scorer_spec, with_keys
from agnt5_evals.projections import queries
from tests.support import execute

SCRIPT = "<script>alert(1)</script>"
TRACED_MODULE = '''
from agnt5_evals import component


@component("traced", type="agent")
def traced(ctx, input):
    """Looks the order up, asks an LLM, saves a memory, and answers what the item says to answer."""
    if input.get("explode"):
        raise RuntimeError("boom <b>")
    order = ctx.tool_call("search_orders", {"order_id": input["order_id"]}, result={"status": "shipped"})
    ctx.llm_call("gpt-test", input_tokens=12, output_tokens=5, role="final_response")
    ctx.event("memory.saved", {"key": "order-" + str(input["order_id"])}, "memory")
    return input["reply"]


@component("scripted", type="agent")
def scripted(ctx, input):
    """Answers a script tag, whatever it is asked."""
    return "<script>alert(1)</script>"
'''
ITEMS = [
    {"input": {"order_id": 1, "reply": {"answer": "Order 1 is shipped", "eta_days": 2}},
     "expected_output": {"answer": "Order 1 is delayed", "eta_days": 2}},
    {"input": {"order_id": 2, "reply": SCRIPT}, "expected_output": "<script>alert(2)</script>"},
    {"input": {"order_id": 3, "explode": True}, "expected_output": None},
    {"input": {"order_id": 4, "reply": "ok"}, "expected_output": "ok"},
]  # fmt: skip
SCORERS = ["exact_match", '{"name": "tool_called", "config": {"tool": "search_orders"}}']


def run_of(svc: Services, dataset: UUID, version: UUID, deployment: UUID, component: str, name: str,
           scorers: list[str] | None = None) -> str:  # fmt: skip
    """An experiment of one component over a dataset version, and its run executed in-process (its id)."""
    definition = {
        "dataset_id": str(dataset), "dataset_version_id": str(version),
        "target": {"type": "component", "deployment_id": str(deployment), "component_name": component,
                   "component_type": "agent"},
        "scorers": with_keys([parse_scorer_spec(s) for s in scorers or SCORERS]), "config": {},
    }  # fmt: skip
    experiment = svc.app.create_experiment(f"exp-{name}", "", definition)
    run_id = svc.app.start_run(experiment.id, name).id
    execute(svc, run_id)
    svc.catch_up()
    return str(run_id)


def traced_world(svc: Services, agent_dir: Path) -> dict[str, Any]:
    """Four items (a changed output, a script tag, an error, a pass) run by the traced agent and by one that always
    answers a script tag; the run ids and the traced run's item ids in position order."""
    (agent_dir / "traced_agent.py").write_text(textwrap.dedent(TRACED_MODULE))
    app = svc.app
    dataset = app.create_dataset("cases")
    app.add_items(dataset.id, ITEMS)
    version = app.publish(dataset.id)
    components = discover("traced_agent", str(agent_dir))
    deployment = app.create_deployment("traced", "traced_agent", str(agent_dir), components)
    traced = run_of(svc, dataset.id, version.id, deployment.id, "traced", "traced-run")
    scripted = run_of(svc, dataset.id, version.id, deployment.id, "scripted", "scripted-run")
    items = [item["id"] for item in queries.run_items(svc.view, traced)]
    return {"run": traced, "scripted": scripted, "items": items, "dataset": dataset.id, "version": version.id,
            "deployment": deployment.id}  # fmt: skip


@pytest.fixture
def traced(services: Services, agent_dir: Path) -> dict[str, Any]:
    return traced_world(services, agent_dir)


def url(world: dict[str, Any], index: int, run: str = "run") -> str:
    return f"/studio/runs/{world[run]}/items/{world['items'][index]}"


def section(page: str, ident: str) -> str:
    """The markup of the element with id ``ident`` up to its closing tag (enough for these pages' sections)."""
    start = page.index(f'id="{ident}"')
    tag = page.rfind("<", 0, start)
    name = re.match(r"<(\w+)", page[tag:])
    assert name is not None
    return page[tag : page.index(f"</{name.group(1)}>", start)]


def text(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def test_an_item_page_shows_the_values_their_diff_the_trace_and_each_scores_evidence(client, traced):
    answer = client.get(url(traced, 0))
    assert answer.status_code == 200
    page = answer.text
    assert '"order_id": 1' in text(section(page, "input"))
    assert '"answer": "Order 1 is delayed"' in text(section(page, "expected"))
    assert '"answer": "Order 1 is shipped"' in text(section(page, "output"))
    diff = section(page, "diff")
    assert "<del>delayed</del>" in diff and "<ins>shipped</ins>" in diff
    assert "eta_days" in diff and "<del>2" not in diff  # the unchanged line is not marked
    timeline = text(section(page, "trace"))
    assert "search_orders" in timeline and "tool call" in timeline
    assert '"order_id": 1' in timeline and '"status": "shipped"' in timeline  # its arguments and result
    assert "gpt-test" in timeline and "tokens 17 (12 in, 5 out)" in timeline
    assert "memory.saved" in timeline and "order-1" in timeline
    scores = text(section(page, "scores"))
    assert "exact_match" in scores and "tool_called" in scores
    assert "tool 'search_orders' was called (calls: search_orders)" in scores
    assert "trace_eval_context" in scores and "Evidence" in scores
    assert 'rel="prev"' not in page and f'href="/studio/runs/{traced["run"]}/items/{traced["items"][1]}"' in page


def test_neighbours_link_the_previous_and_next_items_of_the_run(client, traced):
    page = client.get(url(traced, 1)).text
    assert f'/items/{traced["items"][0]}" rel="prev"' in page and f'/items/{traced["items"][2]}" rel="next"' in page
    last = client.get(url(traced, 3)).text
    assert 'rel="next"' not in last and f'/items/{traced["items"][2]}" rel="prev"' in last


def test_an_errored_item_shows_its_error_and_stack_trace(client, traced):
    page = client.get(url(traced, 2)).text
    assert "RuntimeError: boom &lt;b&gt;" in section(page, "item-error")
    stack = text(section(page, "stack"))
    assert stack.startswith("Traceback") and 'raise RuntimeError("boom <b>")' in stack
    assert 'id="diff"' not in page and "an errored item is not scored" in page


def test_a_script_tag_as_output_is_shown_as_text_also_in_the_diff(client, traced):
    page = client.get(url(traced, 1)).text
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in section(page, "output")
    assert "&lt;script&gt;alert(<del>2</del><ins>1</ins>)&lt;/script&gt;" in section(page, "diff")
    assert [m for m in re.findall(r"<script[^>]*>", page) if "/studio/static/" not in m] == []


def test_annotating_an_item_records_it_and_links_the_agreement_report(client, traced, services):
    path = url(traced, 0)
    answer = client.post(path + "/annotations", {"name": "helpful", "label": "good", "score": "1",
                                                 "explanation": "<i>right</i>"}, follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303 and answer.headers["location"] == path + "#annotations"
    page = client.get(path).text
    notes = section(page, "annotations")
    assert "helpful" in notes and "&lt;i&gt;right&lt;/i&gt;" in notes and "<i>right" not in notes
    assert f"/studio/runs/{traced['run']}/agreement?name=helpful" in notes
    rows = queries.run_annotations(services.view, traced["run"], traced["items"][0])
    assert [(a["name"], a["label"], a["score"]) for a in rows] == [("helpful", "good", 1.0)]
    report = client.get(f"/studio/runs/{traced['run']}/agreement?name=helpful")
    assert report.status_code == 200 and "exact_match" in report.text and "Both pass" in report.text


def test_an_annotation_is_refused_with_the_apis_message_and_the_form_kept(client, traced, services):
    path = url(traced, 0) + "/annotations"
    answer = client.post(path, {"name": "helpful", "label": "", "score": "2", "explanation": "too high"})
    assert answer.status_code == 422
    error = text(section(answer.text, "annotation-error"))
    assert "must be a number from 0 to 1, got 2" in error and "(score)" in error
    assert 'value="helpful"' in answer.text and "too high" in answer.text  # the form as it was sent
    neither = client.post(path, {"name": "helpful"})
    assert neither.status_code == 422 and "give a label, a score or both" in neither.text
    assert queries.run_annotations(services.view, traced["run"]) == []


def test_an_annotation_without_the_csrf_token_is_refused_and_nothing_is_written(client, traced, services):
    answer = client.client.post(url(traced, 0) + "/annotations", data={"name": "helpful", "label": "good"})
    assert answer.status_code == 403
    forged = client.client.post(url(traced, 0) + "/annotations",
                                data={"name": "helpful", "label": "good", "csrf_token": "forged"})  # fmt: skip
    assert forged.status_code == 403
    assert queries.run_annotations(services.view, traced["run"]) == []


def test_an_unknown_item_or_an_item_of_another_run_is_not_found(client, traced):
    assert client.get(f"/studio/runs/{traced['run']}/items/00000000-0000-0000-0000-000000000000").status_code == 404
    other = client.get(f"/studio/runs/{traced['scripted']}/items/{traced['items'][0]}")
    assert other.status_code == 404 and "is not part of run" in other.text
    assert client.get(f"/studio/runs/{traced['run']}/items/not-an-id").status_code == 422


# -- in Chromium -----------------------------------------------------------------------------------------------


def test_in_a_browser_an_item_shows_its_evidence_and_trace_and_takes_an_annotation(studio_url, tab, traced):
    tab.goto(f"{studio_url}{url(traced, 0)}")
    assert "search_orders" in tab.locator("#trace").inner_text()
    assert "trace_eval_context" in tab.locator("#score-tool_called details.evidence").inner_text()
    tab.fill("#annotate input[name=name]", "helpful")
    tab.fill("#annotate input[name=label]", "bad")
    tab.fill("#annotate textarea[name=explanation]", "it says shipped")
    tab.click("#annotate button[type=submit]")
    tab.wait_for_url(re.compile(r".*#annotations$"))
    notes = tab.locator("#annotations table").inner_text()
    assert "helpful" in notes and "it says shipped" in notes


def test_in_a_browser_a_script_tag_as_output_shows_as_text(studio_url, tab, traced):
    tab.goto(f"{studio_url}{url(traced, 1)}")
    assert tab.locator("#output").inner_text().strip() == f'"{SCRIPT}"'
    assert "alert(" in tab.locator("#diff").inner_text()


def test_an_item_page_reads_a_handful_of_rows_and_never_the_runs_items(client, traced, monkeypatch):
    from agnt5_evals.projections.views import EvalsView

    seen: list[str] = []
    query = EvalsView.query

    def counted(self: EvalsView, template: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        seen.append(template)
        return query(self, template, params)

    monkeypatch.setattr(EvalsView, "query", counted)
    assert client.get(url(traced, 1)).status_code == 200
    assert len(seen) <= 12, seen
    reads_items = [sql for sql in seen if "run_items" in sql and "LIMIT 1" not in sql and "WHERE id = ?" not in sql]
    assert reads_items == []  # the item by its id, its neighbours one row each: never a scan of the run
    # scores at the item's place in the run's score index (run, position): never a range of the run's scores
    assert all("run_id = ? AND position = ?" in sql for sql in seen if "FROM {p}scores" in sql)
