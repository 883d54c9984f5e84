"""The run page: the numbers of the REST summary, the item table (filters, paging, sorting in SQL), the charts,
escaping, the actions (cancel, rescore, regression dataset, exports), CSRF, and live progress in Chromium."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from markupsafe import escape

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.adapters.components import discover
from agnt5_evals.api.studio.web import _ms, _num, _pct
from agnt5_evals.domain.scoring import parse_scorer_spec, with_keys
from agnt5_evals.projections import queries
from tests.support import execute, release, wait_until

SCRIPT = "<script>alert(1)</script>"
N_ITEMS = 120
EXPLODE = {n for n in range(N_ITEMS) if n % 25 == 7}  # errored: the component raises
MIRROR = '''
from agnt5_evals import component


@component("mirror", type="function")
def mirror(input):
    """Returns its input; raises for an input marked ``explode``."""
    if input.get("explode"):
        raise RuntimeError("boom")
    return input
'''


def _spec(dataset: Any, version: Any, deployment: Any, component: str, scorers: list[str], **config: Any) -> dict:
    return {
        "dataset_id": str(dataset),
        "dataset_version_id": str(version),
        "target": {"type": "component", "deployment_id": str(deployment), "component_name": component,
                   "component_type": "function"},
        "scorers": with_keys([parse_scorer_spec(s) for s in scorers]),
        "config": config,
    }  # fmt: skip


@pytest.fixture
def finished(services: Services, agent_dir: Path) -> dict[str, Any]:
    """A finished 120-item run of ``mirror``: every output holds a script tag, a third fail exact_match (their
    expected output differs), five errored."""
    (agent_dir / "studio_mirror.py").write_text(textwrap.dedent(MIRROR))
    app = services.app
    ds = app.create_dataset("studio-runs")
    items = []
    for n in range(N_ITEMS):
        value = {"n": n, "text": SCRIPT, **({"explode": True} if n in EXPLODE else {})}
        items.append({"input": value, "expected_output": value if n % 3 else {"n": -1}})
    app.add_items(ds.id, items)
    version = app.publish(ds.id)
    dep = app.create_deployment("mirror", "studio_mirror", str(agent_dir), discover("studio_mirror", str(agent_dir)))
    spec = _spec(ds.id, version.id, dep.id, "mirror", ["exact_match", "json_valid"], passed_threshold=0.5)
    experiment = app.create_experiment("studio-run-page", "", spec)
    run = app.start_run(experiment.id, "first")
    execute(services, run.id)
    services.catch_up()
    return {"run": str(run.id), "experiment": str(experiment.id), "dataset": str(ds.id), "version": str(version.id)}


def positions(html: str) -> list[int]:
    """The positions the item table shows, top to bottom."""
    return [int(p) for p in re.findall(r'<tr class="item"[^>]*>\s*<td class="num"><a href="[^"]+">(\d+)</a>', html)]


def text_of(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', html)
    assert found, f"no #{element_id} in the page"
    return found.group(1).strip()


def test_the_page_shows_the_numbers_of_the_rest_summary(client, finished):
    rid = finished["run"]
    summary = client.get(f"/api/v1/runs/{rid}").json()
    answer = client.get(f"/studio/runs/{rid}")
    assert answer.status_code == 200
    html = answer.text
    assert text_of(html, "run-status") == summary["status"] == "completed"
    assert text_of(html, "pass-rate") == _pct(summary["pass_rate"])
    assert [text_of(html, f"n-{k}") for k in ("passed", "failed", "errored")] == [
        str(summary["passed_items"]), str(summary["failed_items"]), str(summary["errored_items"])]  # fmt: skip
    assert summary["errored_items"] == len(EXPLODE) and summary["failed_items"] > 0
    assert text_of(html, "verdict") == ("gate passed" if summary["gate"]["passed"] else "gate failed")
    for rule in summary["gate"]["rules"]:
        assert str(escape(rule["message"])) in html and _num(rule["observed"]) in html
    table = html.split('id="scorers"')[1].split("</table>")[0]
    for scorer in summary["scorers"]:
        row = table.split(f"<td>{scorer['scorer']}</td>")[1].split("</tr>")[0]
        assert _num(scorer["mean_score"]) in row and _pct(scorer["pass_rate"]) in row
        assert f">{scorer['passed'] + scorer['failed'] + scorer['errored']}<" in row  # n
    latency = summary["latency_ms"]
    assert [text_of(html, f"latency-{k}") for k in ("p50", "p95", "max")] == [
        _ms(latency["p50"]), _ms(latency["p95"]), _ms(latency["max"])]  # fmt: skip
    assert text_of(html, "tokens") == str(summary["total_tokens"])
    links = (f'href="/studio/experiments/{finished["experiment"]}"',
             f'href="/studio/datasets/{finished["dataset"]}/versions/{finished["version"]}"')  # fmt: skip
    assert all(link in html for link in links)


def test_the_latency_figures_equal_the_summary_s_exactly(services, finished):
    from agnt5_evals.projections import studio_runs

    rid = finished["run"]
    expected = queries.run_stats(services.view, rid)
    got = studio_runs.latency(services.view, rid, N_ITEMS)
    assert {k: got[k] for k in ("p50", "p95", "max")} == pytest.approx(expected["latency_ms"], abs=1e-9)
    assert studio_runs.tokens(services.view, rid) == expected["tokens"]


def test_the_table_pages_on_the_server(client, finished):
    base = f"/studio/runs/{finished['run']}"
    first = client.get(base).text
    assert positions(first) == list(range(50)) and 'rel="next"' in first and 'rel="prev"' not in first
    assert positions(client.get(base + "?page=2").text) == list(range(50, 100))
    last = client.get(base + "?page=3").text
    assert positions(last) == list(range(100, N_ITEMS)) and 'rel="next"' not in last and 'rel="prev"' in last
    for item in re.findall(r'href="(/studio/runs/[^/"]+/items/[^"]+)"', first)[:3]:
        assert item.startswith(base + "/items/")


def test_filters_and_sorts_are_done_in_sql_and_match_the_data(client, services, finished):
    rid, base = finished["run"], f"/studio/runs/{finished['run']}"
    items = queries.run_items(services.view, rid)
    failures = [i["position"] for i in items if i["status"] != "passed"]
    shown = client.get(base + "?outcome=failures").text
    assert positions(shown) == failures[:50] and f"({len(failures)} matching)" in shown
    assert positions(client.get(base + "?outcome=errored").text) == sorted(EXPLODE)
    failed_by = [i["position"] for i in items if any(s["scorer_key"] == "exact_match" and not s["passed"]
                                                     for s in i["scores"])]  # fmt: skip
    assert positions(client.get(base + "?scorer=exact_match").text) == failed_by[:50]
    by_duration = sorted(items, key=lambda i: (i["duration_ms"], i["position"]), reverse=True)
    assert positions(client.get(base + "?sort=duration&direction=desc").text) == [
        i["position"] for i in by_duration[:50]]  # fmt: skip
    scored = sorted((s["score"], i["position"]) for i in items for s in i["scores"] if s["scorer_key"] == "exact_match")
    page2 = client.get(base + "?sort=score:exact_match&page=2").text
    assert positions(page2) == [p for _, p in scored[50:100]]
    fragment = client.get(base + "?outcome=passed&direction=desc", headers={"HX-Request": "true", "HX-Target": "items"})
    assert fragment.text.lstrip().startswith('<div id="items">') and "<html" not in fragment.text
    assert positions(fragment.text) == sorted((i["position"] for i in items if i["status"] == "passed"),
                                              reverse=True)[:50]  # fmt: skip
    bad = client.get(base + "?sort=score:nope")
    assert bad.status_code == 422 and "sort" in bad.text and "score:exact_match" in bad.text


def test_the_charts_count_every_score_and_item(client, finished):
    html = client.get(f"/studio/runs/{finished['run']}/stats").text
    for scorer in ("exact_match", "json_valid"):
        counts = [int(n) for n in re.findall(rf"<title>{scorer}: (\d+) score\(s\) in", html)]
        assert len(counts) == 10 and sum(counts) == N_ITEMS - len(EXPLODE)
    exact = [int(n) for n in re.findall(r"<title>exact_match: (\d+) score\(s\) in", html)]
    assert exact[0] > 0 and exact[9] > 0 and sum(exact[1:9]) == 0  # exact_match scores 0 or 1
    latency = [int(n) for n in re.findall(r"<title>[^<]* to [^<]* ms: (\d+) item\(s\)</title>", html)]
    assert latency and sum(latency) == N_ITEMS


def test_a_script_in_an_output_renders_as_text(client, finished):
    html = client.get(f"/studio/runs/{finished['run']}").text
    assert SCRIPT not in html and "alert(1)" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_export_links_download_the_bytes_of_the_rest_export(client, finished):
    rid = finished["run"]
    for fmt in ("jsonl", "csv", "junit", "markdown", "html"):
        page = client.get(f"/studio/runs/{rid}/export/{fmt}")
        rest = client.get(f"/api/v1/runs/{rid}/export", params={"format": fmt})
        assert page.status_code == rest.status_code == 200, fmt
        assert page.content == rest.content and page.headers["content-type"] == rest.headers["content-type"]
        assert page.headers["content-disposition"].startswith(f'attachment; filename="run-{rid}.')
    assert client.get(f"/studio/runs/{rid}/export/exe").status_code == 404


def test_a_regression_dataset_from_the_failures(client, services, finished):
    rid = finished["run"]
    made = client.post(f"/studio/runs/{rid}/regression-dataset", {"name": "from-studio"}, follow_redirects=False)
    assert made.status_code == 303
    dataset_id = re.search(r"regression=([0-9a-f-]+)", made.headers["location"]).group(1)
    page = client.get(made.headers["location"]).text
    assert f'href="/studio/datasets/{dataset_id}"' in page and "from-studio" in page
    version = queries.dataset_versions(services.view, dataset_id)[0]
    run = queries.run(services.view, rid)
    assert version["n_items"] == run["failed"] + run["errored"]
    empty = client.post(f"/studio/runs/{rid}/regression-dataset", {"name": " "})
    assert empty.status_code == 422 and "must not be empty" in empty.text


def test_a_run_without_failures_has_nothing_to_capture(client, services, world):
    spec = _spec(world["dataset"], world["version"], world["good"], "echo", ["json_valid"])
    run = services.app.start_run(services.app.create_experiment("all-pass", "", spec).id)
    execute(services, run.id)
    services.catch_up()
    answer = client.post(f"/studio/runs/{run.id}/regression-dataset", {"name": "nothing"})
    assert answer.status_code == 409 and "has no failed items" in answer.text


def test_rescore_shows_its_progress_then_its_result(client, services, finished):
    rid = finished["run"]
    started = client.post(f"/studio/runs/{rid}/rescore", {"scorer": "json_valid", "reason": "check"},
                          follow_redirects=False)  # fmt: skip
    assert started.status_code == 303
    rescore_id = re.search(r"rescore=([0-9a-f-]+)", started.headers["location"]).group(1)
    wait_until(lambda: queries.rescore(services.view, rescore_id)["status"] != "running", message="rescore ran on")
    panel = client.get(started.headers["location"]).text
    assert text_of(panel, "rescore-status") == "completed"
    assert text_of(panel, "rescore-done") == f"{N_ITEMS - len(EXPLODE)} / {N_ITEMS - len(EXPLODE)}"
    assert f'href="/studio/runs/{rid}?rescore={rescore_id}#rescore"' in client.get(f"/studio/runs/{rid}").text
    fragment = client.get(f"/studio/runs/{rid}/rescores/{rescore_id}").text
    assert 'hx-trigger="every 1s"' not in fragment  # finished: nothing polls
    unknown = client.post(f"/studio/runs/{rid}/rescore", {"scorer": "nope"})
    assert unknown.status_code == 422 and "no scorer" in unknown.text


def _held_run(services: Services, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch, hold: Path) -> str:
    """A run of ``slow`` whose items wait for ``hold`` (in a worker process, as the CLI starts runs)."""
    from agnt5_evals.services import operations

    monkeypatch.setenv("AGNT5_TEST_HOLD", str(hold))
    spec = _spec(world["dataset"], world["version"], world["good"], "slow", ["json_valid"], concurrency=2)
    experiment = services.app.create_experiment("held", "", spec)
    return str(operations.start_run(services, experiment.id, "held")["id"])


def test_cancel_a_held_run(client, services, world, monkeypatch, tmp_path):
    hold = tmp_path / "release"
    rid = _held_run(services, world, monkeypatch, hold)
    try:
        page = client.get(f"/studio/runs/{rid}").text
        assert 'id="cancel-form"' in page and "data-confirm" in page and 'hx-trigger="every 1s"' in page
        progress = client.get(f"/studio/runs/{rid}/progress", headers={"HX-Request": "true"})
        assert "HX-Retarget" not in progress.headers and text_of(progress.text, "progress-done") == "0 / 10"
        cancelled = client.post(f"/studio/runs/{rid}/cancel", follow_redirects=False)
        assert cancelled.status_code == 303 and cancelled.headers["location"] == f"/studio/runs/{rid}"
        assert queries.run(services.view, rid)["status"] == "cancelled"
        after = client.get(f"/studio/runs/{rid}").text
        assert text_of(after, "run-status") == "cancelled" and 'id="cancel-form"' not in after
        again = client.post(f"/studio/runs/{rid}/cancel")
        assert again.status_code == 409 and 'id="action-error"' in again.text
        final = client.get(f"/studio/runs/{rid}/progress", headers={"HX-Request": "true"})
        assert final.headers["HX-Retarget"] == "#run" and 'hx-trigger="every 1s"' not in final.text
    finally:
        release(hold)


def test_a_form_without_the_csrf_token_is_refused(client, services, finished):
    rid = finished["run"]
    before = services.app.recorder.max_notification_id()
    for action in ("cancel", "rescore", "regression-dataset"):
        answer = client.client.post(f"/studio/runs/{rid}/{action}", data={"name": "x"})
        assert answer.status_code == 403, action
    assert services.app.recorder.max_notification_id() == before


def test_unknown_and_malformed_runs(client):
    assert client.get("/studio/runs/not-an-id").status_code == 422
    missing = client.get(f"/studio/runs/{UUID(int=1)}")
    assert missing.status_code == 404 and "not found" in missing.text


@pytest.mark.slow
def test_live_progress_reaches_completed_without_reloading(services, world, monkeypatch, tmp_path, studio_url, tab):
    hold = tmp_path / "release"
    rid = _held_run(services, world, monkeypatch, hold)
    try:
        tab.goto(f"{studio_url}/studio/runs/{rid}")
        tab.wait_for_selector("#progress-done")
        assert tab.inner_text("#run-status") in ("pending", "running")
        tab.evaluate("window.studioMarker = 'same page'")
        release(hold)
        tab.wait_for_selector("#item-table", timeout=120_000)
        assert tab.inner_text("#run-status") == "completed"
        assert tab.inner_text("#n-items") == "10 / 10"
        assert tab.evaluate("window.studioMarker") == "same page"  # no reload: htmx swapped the body
        tab.wait_for_selector("svg.chart")
        assert tab.query_selector("#progress") is None  # nothing polls any more
    finally:
        release(hold)
