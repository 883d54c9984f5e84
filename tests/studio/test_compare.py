"""Compare: the picker, the movement (verdict, interval, McNemar, scorers, comparability), the flips first with both
outputs and their diff, the paired items paged in SQL, strict refusing non-comparable runs; values shown as text."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.projections import queries, studio_items
from tests.studio.test_items import run_of, section, text, traced_world
from tests.support import execute, make_world

SCORERS = ["json_valid", '{"name": "tool_called", "config": {"tool": "search_orders"}}']


def good_and_regressed(svc: Services, agent_dir: Path) -> dict[str, Any]:
    """make_world's good and regressed agents run over its 10 items: the odd orders newly fail."""
    world = make_world(svc, agent_dir)
    good = run_of(svc, world["dataset"], world["version"], world["good"], "support_agent", "good-run", SCORERS)
    bad = run_of(svc, world["dataset"], world["version"], world["bad"], "support_agent", "bad-run", SCORERS)
    return {**world, "good_run": good, "bad_run": bad}


@pytest.fixture
def runs(services: Services, agent_dir: Path) -> dict[str, Any]:
    return good_and_regressed(services, agent_dir)


def compare_url(base: str, candidate: str, **extra: str) -> str:
    query = "".join(f"&{key}={value}" for key, value in extra.items())
    return f"/studio/compare?base={base}&candidate={candidate}{query}"


def test_compare_shows_the_verdict_the_interval_and_the_flips_first(client, runs, services):
    answer = client.get(compare_url(runs["good_run"], runs["bad_run"]))
    assert answer.status_code == 200
    page = answer.text
    assert text(section(page, "verdict")) == "within noise"  # 5 flips one way: p = 0.0625
    assert text(section(page, "p-value")) == "0.0625"
    assert text(section(page, "delta")) == "-50.0%"
    assert text(section(page, "interval")) == "-80.0% to -20.0%"
    assert text(section(page, "failing-count")) == "5" and text(section(page, "passing-count")) == "0"
    scorers = text(section(page, "scorers"))
    assert "json_valid" in scorers and "tool_called" in scorers
    assert page.index('id="newly-failing"') < page.index('id="newly-passing"') < page.index('id="paired"')
    failing = page[page.index('id="newly-failing"') : page.index('id="newly-passing"')]
    assert failing.count('class="card flip"') == 5
    assert "{not json" in text(failing) and "Order 1 is shipped" in text(failing)
    assert '<ins class="line-add">&#34;{not json&#34;</ins>' in failing  # the output diff
    flips = [item for item in queries.run_items(services.view, runs["bad_run"]) if item["status"] == "failed"]
    for item in flips:
        assert f'/studio/runs/{runs["bad_run"]}/items/{item["id"]}"' in failing
    assert "The runs measured the same thing" in page


def test_the_paired_items_are_listed_side_by_side_with_links_to_both_item_pages(client, runs, services):
    page = client.get(compare_url(runs["good_run"], runs["bad_run"])).text
    paired = section(page, "paired-items")
    base = queries.run_items(services.view, runs["good_run"])
    other = queries.run_items(services.view, runs["bad_run"])
    assert paired.count("<tr") == 11  # the header and the 10 items
    for was, now in zip(base, other, strict=True):
        assert f'/items/{was["id"]}"' in paired and f'/items/{now["id"]}"' in paired
    assert paired.count('class="flipped"') == 5


def test_names_work_as_run_references_and_swapping_reverses_the_flips(client, runs):
    page = client.get(compare_url("bad-run", "good-run")).text
    assert text(section(page, "failing-count")) == "0" and text(section(page, "passing-count")) == "5"
    assert text(section(page, "delta")) == "+50.0%"
    missing = client.get(compare_url("good-run", "no-such-run"))
    assert missing.status_code == 404 and "no-such-run" in text(section(missing.text, "error-message"))


def test_strict_refuses_runs_that_measured_different_things(client, runs, services):
    other = run_of(services, runs["dataset"], runs["version"], runs["good"], "support_agent", "json-only",
                   ["json_valid"])  # fmt: skip
    loose = client.get(compare_url(runs["good_run"], other))
    assert loose.status_code == 200
    assert "the runs have different scorer sets" in text(section(loose.text, "comparability"))
    strict = client.get(compare_url(runs["good_run"], other, strict="1"))
    assert strict.status_code == 409
    message = text(section(strict.text, "error-message"))
    assert "the runs are not comparable: the runs have different scorer sets" in message
    assert 'name="strict" value="1" checked' in strict.text  # the picker, as it was sent


def test_without_two_runs_the_picker_offers_experiments_then_their_runs(client, runs, services):
    page = client.get("/studio/compare").text
    assert "exp-good-run" in section(page, "pick-experiment") and 'id="paste-runs"' in page
    experiment = queries.run(services.view, runs["bad_run"])["experiment_id"]
    chosen = client.get(f"/studio/compare?experiment={experiment}").text
    assert f'value="{experiment}" selected' in chosen and "two are needed" in chosen  # it has one run
    only_base = client.get(f"/studio/compare?base={runs['good_run']}")
    assert only_base.status_code == 200 and f'value="{runs["good_run"]}"' in only_base.text


def test_the_picker_preselects_an_experiments_two_latest_runs(client, runs, services):
    experiment = queries.run(services.view, runs["good_run"])["experiment_id"]
    second = services.app.start_run(UUID(experiment), "good-again").id
    execute(services, second)
    services.catch_up()
    page = section(client.get(f"/studio/compare?experiment={experiment}").text, "pick-runs")
    assert f'value="{runs["good_run"]}" selected' in page and f'value="{second}" selected' in page


def test_paired_pages_follow_the_base_run_and_go_back(services, runs):
    view = services.view
    base, other = queries.run(view, runs["good_run"]), queries.run(view, runs["bad_run"])
    assert studio_items.aligned(base, other)
    first = studio_items.paired_page(view, base, other, limit=4)
    assert [row["position"] for row in first["rows"]] == [0, 1, 2, 3]
    assert first["before"] is None and first["after"] == 3
    second = studio_items.paired_page(view, base, other, after=first["after"], limit=4)
    assert [row["position"] for row in second["rows"]] == [4, 5, 6, 7] and second["before"] == 4
    last = studio_items.paired_page(view, base, other, after=second["after"], limit=4)
    assert [row["position"] for row in last["rows"]] == [8, 9] and last["after"] is None
    back = studio_items.paired_page(view, base, other, before=second["before"], limit=4)
    assert back["rows"] == first["rows"] and back["before"] is None and back["after"] == 3
    assert first["rows"][0]["base_output"] == '{"answer":"Order 1 is shipped"}'
    assert first["rows"][0]["compare_output"] == "{not json"  # a string output shows as itself


def test_paired_pages_pair_by_dataset_item_across_dataset_versions(services, agent_dir, runs):
    app = services.app
    app.add_items(runs["dataset"], [{"input": {"order_id": 0}, "expected_output": 0}])  # one more item
    version = app.publish(runs["dataset"])
    newer = run_of(services, runs["dataset"], version.id, runs["good"], "support_agent", "newer", SCORERS)
    view = services.view
    base, other = queries.run(view, runs["good_run"]), queries.run(view, newer)
    assert not studio_items.aligned(base, other)
    rows = studio_items.paired_page(view, base, other, limit=50)["rows"]
    assert len(rows) == 10  # the base run's items, each paired (the new item is only in the candidate)
    by_item = {item["dataset_item_id"]: item["id"] for item in queries.run_items(view, newer)}
    assert all(row["compare_id"] == by_item[row["dataset_item_id"]] for row in rows)
    swapped = studio_items.paired_page(view, other, base, limit=50)["rows"]
    assert len(swapped) == 11 and [row["compare_id"] for row in swapped].count(None) == 1
    assert swapped[-1]["compare_id"] is None  # the added item: not in the older run


def test_a_script_tag_as_output_is_shown_as_text_in_the_flips_and_the_list(client, services, agent_dir):
    world = traced_world(services, agent_dir)
    page = client.get(compare_url(world["run"], world["scripted"])).text
    assert "<script>alert" not in page
    failing = section(page, "newly-failing")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in failing
    assert "<del>ok</del><ins>&lt;script&gt;alert(1)&lt;/script&gt;</ins>" in failing  # the word diff, escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section(page, "paired-items")


# -- in Chromium -----------------------------------------------------------------------------------------------


def test_in_a_browser_compare_picks_two_runs_and_shows_the_flips(studio_url, tab, runs, services):
    experiment = queries.run(services.view, runs["bad_run"])["experiment_id"]
    tab.goto(f"{studio_url}/studio/compare")
    tab.select_option("#pick-experiment select[name=experiment]", experiment)  # submits itself
    tab.wait_for_selector("#paste-runs")
    tab.fill("#paste-runs input[name=base]", "good-run")
    tab.fill("#paste-runs input[name=candidate]", "bad-run")
    tab.click("#paste-runs button[type=submit]")
    tab.wait_for_selector("#verdict")
    assert tab.locator("#verdict").inner_text() == "within noise"
    assert tab.locator("#newly-failing article.flip").count() == 5
    tab.locator("#newly-failing a.candidate-item").first.click()
    tab.wait_for_selector("#item-status")
    assert tab.locator("#item-status").inner_text() == "failed"
