"""The Studio end to end in real Chromium, as a person uses it: a dataset made and published from the pages, an
experiment created from the form, a run started and watched to the end, the failures filtered, an item opened with
its evidence and trace and annotated, a candidate run started, and compare showing the flips. Values holding
``<script>alert(1)</script>`` are shown as text all along (the ``tab`` fixture fails on any alert)."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from agnt5_evals.adapters.components import discover

XSS = "<script>alert(1)</script>"
pytestmark = pytest.mark.slow


def _cases(path: Path) -> Path:
    """Six orders; the good agent answers each as expected except order 6 (its expected answer differs)."""
    lines = [
        {"input": {"order_id": n}, "expected_output": {"answer": f"Order {n} is {'lost' if n == 6 else 'shipped'}"}}
        for n in range(1, 7)
    ]
    lines.append({"input": {"order_id": 7, "note": XSS}, "expected_output": {"answer": "Order 7 is shipped"}})
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


def test_a_dataset_an_experiment_a_run_its_failures_an_annotation_and_a_comparison(
    tab, studio_url, services, agent_dir, tmp_path
):
    good = services.app.create_deployment("good", "good_agent", str(agent_dir), discover("good_agent", str(agent_dir)))
    bad = services.app.create_deployment(
        "regressed", "regressed_agent", str(agent_dir), discover("regressed_agent", str(agent_dir))
    )
    studio = f"{studio_url}/studio"

    # A dataset, filled by an upload and published.
    tab.goto(f"{studio}/datasets")
    tab.fill("#new-dataset input[name=name]", "flow-cases")
    tab.click("#new-dataset button")
    tab.wait_for_url(re.compile(r".*/draft$"))
    tab.set_input_files("#upload-form input[type=file]", str(_cases(tmp_path / "cases.jsonl")))
    tab.click("#upload-form button")
    tab.wait_for_selector("text=Added 7 items.")
    tab.click("#publish-form button")
    tab.wait_for_url(re.compile(r".*/versions/[0-9a-f-]{36}$"))
    dataset_id, version_id = re.findall(r"[0-9a-f-]{36}", tab.url)
    assert XSS in tab.locator("main").inner_text()  # shown as text

    # An experiment from the form: the good agent, scored by exact_match and json_valid.
    tab.goto(f"{studio}/experiments/new")
    tab.fill("input[name=name]", "flow quality")
    tab.select_option("select[name=dataset_id]", dataset_id)
    tab.wait_for_selector(f"#experiment-form[data-dataset='{dataset_id}']", state="attached")
    tab.select_option("select[name=dataset_version_id]", version_id)
    tab.select_option("select[name=deployment_id]", str(good.id))
    tab.wait_for_selector(f"#experiment-form[data-deployment='{good.id}']", state="attached")
    tab.select_option("select[name=component_name]", "support_agent")
    tab.check("#scorer-exact_match")
    tab.check("#scorer-json_valid")
    tab.click("#create")
    tab.wait_for_url(re.compile(r".*/studio/experiments/[0-9a-f-]{36}$"))
    experiment_page = tab.url

    # A run, watched until it completes (the page swaps its results in without a reload).
    tab.fill("#start-run input[name=name]", "baseline")
    tab.click("#start-run button")
    tab.wait_for_url(re.compile(r".*/studio/runs/[0-9a-f-]{36}$"))
    baseline = tab.url.rsplit("/", 1)[1]
    tab.wait_for_selector("#item-table", timeout=180_000)
    assert "completed" in tab.locator("main").inner_text()

    # The failures only: order 6, whose expected answer differs.
    tab.select_option("select[name=outcome]", "failures")
    tab.wait_for_url(re.compile(r".*outcome=failures.*"))
    tab.wait_for_function("document.querySelectorAll('#item-table tbody tr.item').length === 1")
    tab.locator("#item-table tbody tr.item a").first.click()

    # The item: its evidence and its trace, then an annotation.
    tab.wait_for_selector("#item-status")
    assert tab.locator("#item-status").inner_text() == "failed"
    assert "Order 6 is lost" in tab.locator("#expected").inner_text()
    assert "search_orders" in tab.locator("#trace").inner_text()  # the tool call, with its arguments
    score = tab.locator("#score-exact_match").inner_text()
    assert "exact_match failed" in score and "output differs from expected output" in score
    assert "Evidence" in score and "output_text" in score  # what the scorer compared
    tab.fill("#annotate input[name=name]", "correct")
    tab.fill("#annotate input[name=label]", "bad")
    tab.fill("#annotate textarea[name=explanation]", XSS)
    tab.click("#annotate button[type=submit]")
    tab.wait_for_url(re.compile(r".*#annotations$"))
    notes = tab.locator("#annotations table").inner_text()
    assert "correct" in notes and XSS in notes

    # A candidate run on the regressed deployment, then compare: the odd orders flip to failing.
    tab.goto(experiment_page)
    tab.fill("#start-run input[name=name]", "candidate")
    tab.select_option("#start-run select[name=deployment_id]", str(bad.id))
    tab.click("#start-run button")
    tab.wait_for_url(re.compile(r".*/studio/runs/[0-9a-f-]{36}$"))
    candidate = tab.url.rsplit("/", 1)[1]
    tab.wait_for_selector("#item-table", timeout=180_000)
    tab.goto(f"{studio}/compare?base={baseline}&candidate={candidate}")
    tab.wait_for_selector("#verdict")
    flips = tab.locator("#newly-failing article.flip")
    assert flips.count() == 4  # orders 1, 3, 5 and 7 answer broken JSON now
    assert "{not json" in tab.locator("#newly-failing").inner_text()
