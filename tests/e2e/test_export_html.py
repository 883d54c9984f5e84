"""The HTML export in a real browser: a self-contained page whose rows a person filters and sorts, and whose values
are text (an output holding a ``<script>`` is shown, never run)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agnt5_evals.adapters.html_report import to_html
from tests.conftest import CHROMIUM
from tests.export_samples import sample_export

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="no browser: /usr/bin/chromium is not installed")


@pytest.fixture
def page(tmp_path: Path, chromium: Any) -> Iterator[object]:
    path = tmp_path / "report.html"
    path.write_bytes(to_html(sample_export()))
    context = chromium.new_context()  # the test process's one browser (tests/conftest.py), a context of its own
    try:
        requests: list[str] = []
        tab = context.new_page()
        tab.on("request", lambda request: requests.append(request.url))
        tab.goto(path.as_uri())
        yield tab
        assert [url for url in requests if not url.startswith("file:")] == []  # nothing fetched from elsewhere
    finally:
        context.close()


def _visible_items(page) -> list[str]:
    return page.locator("#items tbody tr:visible td:nth-child(2)").all_inner_texts()


def test_every_item_is_a_row_with_its_values(page):
    assert _visible_items(page) == ["d0", "d1", "d2", "d3"]
    assert page.locator("h1").inner_text().startswith("FAILED")
    assert "RuntimeError: kaboom" in page.locator("#items tbody tr").nth(3).inner_text()


def test_typing_in_the_filter_or_choosing_a_status_hides_the_other_rows(page):
    page.fill("#filter", "HYPERLINK")
    assert _visible_items(page) == ["d1"]
    assert page.locator("#shown").inner_text() == "1 of 4 items"
    page.fill("#filter", "")
    page.select_option("#status", "failed")
    assert _visible_items(page) == ["d1", "d2"]
    page.fill("#filter", "nothing matches this")
    assert _visible_items(page) == []


def test_clicking_a_header_sorts_and_clicking_again_reverses(page):
    header = page.locator("#items thead th", has_text=re.compile("^ms$"))
    header.click()
    assert _visible_items(page) == ["d0", "d1", "d2", "d3"]
    header.click()
    assert _visible_items(page) == ["d3", "d2", "d1", "d0"]
    page.locator("#items thead th", has_text=re.compile("^Status$")).click()
    assert page.locator("#items tbody tr td.status").first.inner_text().startswith("errored")


def test_a_script_in_an_output_is_shown_as_text_and_not_run(page):
    assert page.evaluate("window.pwned") is None
    output = page.locator("#items tbody tr").nth(2).locator("td.output").inner_text()
    assert "<script>window.pwned = 1</script>" in output
    assert page.locator("#items tbody script").count() == 0
