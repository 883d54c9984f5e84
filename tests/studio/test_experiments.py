"""The Studio's experiment pages: the list, the create form (the API's service, messages and fields), an
experiment's page (its runs, the trend chart, starting a run) and the flaky panel, on both stores; one Chromium
test creates an experiment from the form and starts a run."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

import pytest
from markupsafe import escape

from agnt5_evals.projections import queries
from agnt5_evals.services import experiments
from agnt5_evals.services.definitions import target_from
from tests.studio.conftest import ARTIFACTS
from tests.support import execute, wait_until

SCRIPT = "<script>alert(1)</script>"


def form(world: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A valid create form (the component type left to the deployment's discovery)."""
    return {
        "name": "support quality", "description": "", "dataset_id": str(world["dataset"]),
        "dataset_version_id": str(world["version"]), "target_type": "component",
        "deployment_id": str(world["good"]), "component_name": "support_agent", "component_type": "",
        "scorers": ["json_valid"], "config": "", **changes,
    }  # fmt: skip


def api_body(world: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {
        "name": "support quality", "dataset_id": str(world["dataset"]), "dataset_version_id": str(world["version"]),
        "deployment_id": str(world["good"]), "component_name": "support_agent", "component_type": "agent",
        "scorers": ["json_valid"], **changes,
    }  # fmt: skip


def make_experiment(services, world, name: str = "support quality", description: str = "") -> str:
    target = target_from("component", str(world["good"]), "support_agent", "agent", None)
    row = experiments.create_experiment(services, name, description, world["dataset"], world["version"], target,
                                        ["json_valid"], [], {})  # fmt: skip
    return str(row["id"])


def run(services, experiment_id: str, deployment: UUID | None = None, name: str = "") -> str:
    """A run executed here, to the end (the read model caught up)."""
    written = services.app.start_run(UUID(experiment_id), name, deployment)
    assert execute(services, written.id) == "completed"
    services.catch_up()
    return str(written.id)


def test_the_list_shows_each_experiment_with_its_latest_run_and_searches(client, services, world):
    first = make_experiment(services, world, "support quality", "checks the answers")
    make_experiment(services, world, "billing 100%_done")
    run(services, first)
    latest = run(services, first, world["bad"], name="regressed")
    page = client.get("/studio/experiments")
    assert page.status_code == 200
    row = re.search(rf'<a href="/studio/experiments/{first}">support quality</a>.*?</tr>', page.text, re.S)
    assert row is not None, page.text
    text = row.group(0)
    assert "orders v1" in text and "good / support_agent" in text and "json_valid" in text
    assert f"/studio/runs/{latest}" in text and "completed" in text and "50.0%" in text and "gate failed" in text
    assert re.search(r'<td class="num">2</td>\s*</tr>', text)
    assert 'href="/studio/experiments/new"' in page.text
    found = client.get("/studio/experiments", params={"q": "ANSWERS"}).text
    assert "support quality" in found and "billing" not in found
    literal = client.get("/studio/experiments", params={"q": "%_"}).text  # LIKE's wildcards match themselves
    assert "billing 100%_done" in literal and "support quality" not in literal


def test_the_form_offers_the_projects_datasets_deployments_and_scorers(client, world):
    page = client.get("/studio/experiments/new")
    assert page.status_code == 200
    assert f'value="{world["version"]}"' in page.text and "orders v1 (10 items)" in page.text
    assert f'value="{world["good"]}"' in page.text and f'value="{world["bad"]}"' in page.text
    assert 'name="scorers" value="json_valid"' in page.text and 'name="scorer_config.tool_called"' in page.text
    chosen = client.get("/studio/experiments/new", params={"deployment_id": str(world["good"])}).text
    assert 'value="support_agent"' in chosen and 'value="echo"' in chosen and ", bad)" not in chosen
    prompt = client.get("/studio/experiments/new", params={"target_type": "prompt"}).text
    assert 'name="prompt_id"' in prompt and 'name="deployment_id"' not in prompt


def test_creating_from_the_form_goes_to_the_experiments_page(client, services, world):
    sent = form(
        world,
        description="first try",
        scorers=["json_valid", "tool_called"],
        repetitions="2",
        **{"scorer_config.tool_called": '{"tool": "search_orders"}', "config": '{"passed_threshold": 0.9}'},
    )
    answer = client.post("/studio/experiments", sent, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    experiment_id = answer.headers["location"].removeprefix("/studio/experiments/")
    row = queries.experiment(services.view, experiment_id)
    assert row["name"] == "support quality" and row["description"] == "first try"
    assert row["definition"]["target"]["component_type"] == "agent"  # as discovered
    assert [s["name"] for s in row["definition"]["scorers"]] == ["json_valid", "tool_called"]
    assert row["definition"]["scorers"][1]["config"] == {"tool": "search_orders"}
    assert row["definition"]["config"] == {"passed_threshold": 0.9, "repetitions": 2}
    page = client.get(answer.headers["location"])
    assert page.status_code == 200 and "support quality" in page.text and "first try" in page.text
    assert "No runs yet" in page.text and f'action="/studio/experiments/{experiment_id}/runs"' in page.text


@pytest.mark.parametrize(
    ("change", "api_change", "status", "field", "says"),
    [
        ({"scorers": ["nope"]}, {"scorers": ["nope"]}, 422, "scorers[0].name", "nope"),
        ({"config": '{"passed_treshold": 1}'}, {"config": {"passed_treshold": 1}}, 422, "config.passed_treshold",
         "did you mean passed_threshold?"),
        ({"component_name": "nope", "component_type": "agent"}, {"component_name": "nope"}, 422,
         "target.component_name", "nope"),
        ({"dataset_version_id": "00000000-0000-4000-8000-000000000000"},
         {"dataset_version_id": "00000000-0000-4000-8000-000000000000"}, 404, "dataset_version_id", "not found"),
    ],
)  # fmt: skip
def test_a_refusal_has_the_apis_message_and_field_and_keeps_the_values(
    client, services, world, change, api_change, status, field, says
):
    api = client.client.post("/api/v1/experiments", json=api_body(world, **api_change))
    assert api.status_code == status and api.json()["field"] == field and says in api.json()["message"]
    typed = form(world, description="kept <b>as typed</b>", repetitions="3", **change)
    answer = client.post("/studio/experiments", typed)
    assert answer.status_code == status
    assert str(escape(api.json()["message"])) in answer.text and f"({field})" in answer.text
    assert "kept &lt;b&gt;as typed&lt;/b&gt;" in answer.text and 'name="repetitions" value="3"' in answer.text
    assert 'value="support quality"' in answer.text
    if "config" in change:
        assert str(escape(change["config"])) in answer.text
    assert queries.experiments(services.view) == []


def test_a_bad_number_or_json_is_named_as_the_api_names_it(client, services, world):
    answer = client.post("/studio/experiments", form(world, concurrency="lots"))
    assert answer.status_code == 422
    assert "concurrency must be an integer from 1 to 256, got &#39;lots&#39;" in answer.text
    answer = client.post("/studio/experiments", form(world, config="{nope"))
    assert answer.status_code == 422 and "malformed JSON" in answer.text and "(config)" in answer.text
    answer = client.post("/studio/experiments", form(world, config="[1]"))
    assert answer.status_code == 422 and "must be a JSON object" in answer.text
    assert queries.experiments(services.view) == []


def test_a_form_without_the_csrf_token_writes_nothing(client, services, world):
    data = form(world)
    answer = client.client.post("/studio/experiments", data=data)
    assert answer.status_code == 403
    forged = client.client.post("/studio/experiments", data={**data, "csrf_token": "forged"})
    assert forged.status_code == 403
    assert queries.experiments(services.view) == []
    experiment_id = make_experiment(services, world)
    start = client.client.post(f"/studio/experiments/{experiment_id}/runs", data={"name": "x"})
    assert start.status_code == 403 and queries.runs(services.view, experiment_id) == []


def test_names_and_descriptions_render_as_text(client, services, world):
    answer = client.post("/studio/experiments", form(world, name=SCRIPT, description=SCRIPT), follow_redirects=False)
    assert answer.status_code == 303, answer.text
    experiment_id = answer.headers["location"].rsplit("/", 1)[1]
    run(services, experiment_id, name=SCRIPT)
    for path in ("/studio/experiments", f"/studio/experiments/{experiment_id}",
                 f"/studio/experiments/{experiment_id}/flaky?last=2", "/studio/experiments?q=%3Cscript"):  # fmt: skip
        text = client.get(path).text
        assert SCRIPT not in text, path
    shown = client.get(f"/studio/experiments/{experiment_id}").text
    assert shown.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3  # the name, the description, the run


def test_the_experiments_page_charts_each_run_coloured_by_its_gate(client, services, world):
    experiment_id = make_experiment(services, world)
    runs = [run(services, experiment_id, name="good 1"), run(services, experiment_id, world["bad"], name="bad"),
            run(services, experiment_id, name="good 2")]  # fmt: skip
    page = client.get(f"/studio/experiments/{experiment_id}")
    assert page.status_code == 200
    chart = re.search(r'<div id="trend">(.*?)</div>', page.text, re.S)
    assert chart is not None and '<svg class="chart"' in chart.group(1)
    dots = re.findall(r'<a href="/studio/runs/([0-9a-f-]+)"><circle class="dot (\w*)"', chart.group(1))
    assert dots == [(runs[0], "pass"), (runs[1], "fail"), (runs[2], "pass")]
    table = page.text.split('id="runs"', 1)[1]
    assert table.index(runs[2]) < table.index(runs[1]) < table.index(runs[0])  # newest first
    assert "50.0%" in table and ">5<" in table  # the bad run: 5 passed, 5 failed
    assert f'hx-get="/studio/experiments/{experiment_id}/flaky?last=5" hx-trigger="load"' in page.text


def test_the_flaky_panel_lists_the_items_whose_verdict_changed(client, services, world):
    experiment_id = make_experiment(services, world)
    run(services, experiment_id)
    only_one = client.get(f"/studio/experiments/{experiment_id}/flaky", headers={"HX-Request": "true"})
    assert only_one.status_code == 200 and "at least two completed runs" in only_one.text
    assert "<html" not in only_one.text  # a fragment
    run(services, experiment_id, world["bad"])
    newest = run(services, experiment_id, name="newest")
    panel = client.get(f"/studio/experiments/{experiment_id}/flaky?last=3", headers={"HX-Request": "true"}).text
    links = re.findall(rf'href="/studio/runs/{newest}/items/([0-9a-f-]+)"', panel)
    assert len(links) == 5  # the odd orders: passed, failed, passed
    items = {item["id"]: item["dataset_item_id"] for item in queries.run_items(services.view, newest)}
    orders = {
        item["item_id"]: item["input"]["order_id"]
        for item in queries.version_items(services.view, str(world["version"]))
    }
    assert sorted(orders[items[link]] for link in links) == [1, 3, 5, 7, 9]
    assert panel.count('<span class="badge failed">failed</span>') == 5
    assert 'option value="3" selected' in panel
    assert client.get(f"/studio/experiments/{experiment_id}/flaky?last=1").status_code == 422


@pytest.mark.slow
def test_a_browser_creates_an_experiment_and_starts_a_run(tab, studio_url, services, world):
    tab.goto(f"{studio_url}/studio/experiments")
    tab.click("#new-experiment")
    tab.fill("input[name=name]", "from the browser")
    tab.select_option("select[name=dataset_id]", str(world["dataset"]))
    tab.wait_for_selector(f"#experiment-form[data-dataset='{world['dataset']}']", state="attached")  # refreshed
    tab.select_option("select[name=dataset_version_id]", str(world["version"]))
    tab.select_option("select[name=deployment_id]", str(world["good"]))
    tab.wait_for_selector(f"#experiment-form[data-deployment='{world['good']}']", state="attached")
    assert tab.locator("select[name=component_name] option[value=echo]").count() == 1  # the good one's only
    tab.select_option("select[name=component_name]", "support_agent")
    tab.check("#scorer-json_valid")
    ARTIFACTS.joinpath("studio").mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / "studio" / "experiments_new_form.png"), full_page=True)
    tab.click("#create")
    tab.wait_for_url(re.compile(r".*/studio/experiments/[0-9a-f-]{36}$"))
    assert tab.locator("#experiment-name").inner_text() == "from the browser"
    experiment_id = tab.url.rsplit("/", 1)[1]
    tab.wait_for_selector("#flaky >> text=at least two completed runs")  # the panel came in after the page
    tab.fill("#start-run input[name=name]", "first")
    tab.click("#start-run button")
    tab.wait_for_url(re.compile(r".*/studio/runs/[0-9a-f-]{36}$"))
    run_id = tab.url.rsplit("/", 1)[1]

    def finished() -> bool:
        services.catch_up()
        return bool(queries.run(services.view, run_id)["status"] in ("completed", "failed"))

    wait_until(finished, message="the run did not finish")
    assert queries.run(services.view, run_id)["experiment_id"] == experiment_id
    tab.goto(f"{studio_url}/studio/experiments/{experiment_id}")  # the last screen: the experiment with its run
    assert tab.locator(f"#runs a[href='/studio/runs/{run_id}']").inner_text() == "first"
    assert tab.locator("#trend circle.dot").count() == 1


def test_the_flaky_panel_of_big_runs_of_different_versions_waits_for_a_click(client, services, world, monkeypatch):
    """Runs of one dataset version are read from their vectors at any size: the panel loads by itself. Big runs
    that would be read item by item (here: made to look of different versions) wait for a click."""
    from agnt5_evals.api.studio.pages import experiments as pages

    monkeypatch.setattr(pages, "FLAKY_AUTO_ITEMS", 15)  # two runs of 10 items read more than that
    experiment_id = make_experiment(services, world)
    run(services, experiment_id)
    assert 'hx-trigger="load"' in client.get(f"/studio/experiments/{experiment_id}").text
    run(services, experiment_id)
    assert 'hx-trigger="load"' in client.get(f"/studio/experiments/{experiment_id}").text  # one version
    monkeypatch.setattr(pages, "comparable", lambda base, other: base is other)
    page = client.get(f"/studio/experiments/{experiment_id}").text
    assert 'hx-trigger="load"' not in page and "hold 20 run items" in page
    assert f'<button class="secondary" hx-get="/studio/experiments/{experiment_id}/flaky?last=5"' in page
