"""The Studio's dataset pages: the list and the create form, a dataset's versions and their diff, a version's items
(paged on the server, filtered by split and text), and the draft (add, edit, remove, upload, publish); and the REST
route that removes a draft item."""

from __future__ import annotations

import html
import re
from typing import Any
from uuid import UUID

import pytest

from agnt5_evals.projections import queries, studio_datasets

XSS = "<script>alert(1)</script>"


def _dataset(services: Any, n: int = 0, name: str = "orders", publish: bool = False, **item: Any) -> UUID:
    ds = services.app.create_dataset(name).id
    if n:
        items = [{"input": {"n": k}, "expected_output": f"answer {k}", "split": ["train", "test"][k % 2], **item}
                 for k in range(n)]  # fmt: skip
        services.app.add_items(ds, items)
    if publish:
        services.app.publish(ds)
    services.catch_up()
    return UUID(str(ds))


def _version(services: Any, ds: UUID, number: int = 1) -> str:
    services.catch_up()
    return next(v["id"] for v in queries.dataset_versions(services.view, str(ds)) if v["number"] == number)


def _draft(services: Any, ds: UUID) -> list[dict[str, Any]]:
    services.catch_up()
    return queries.draft_items(services.view, str(ds))


def _shown_ids(html: str) -> list[str]:
    return re.findall(r'<tr data-item-id="([^"]+)"', html)


def _no_token_post(client: Any, path: str, data: dict[str, Any]) -> Any:
    return client.client.post(path, data=data)


# -- the list and the create form -------------------------------------------------------------------------------


def test_the_list_shows_each_dataset_with_its_versions_draft_size_and_a_search(client, services):
    _dataset(services, 3, name="orders", publish=True)
    _dataset(services, 2, name="refunds")
    page = client.get("/studio/datasets")
    assert page.status_code == 200
    rows = re.findall(r'<tr>\s*<td><a href="/studio/datasets/[^"]+">([^<]+)</a>.*?<td class="num">(\d+)</td>\s*'
                      r'<td class="num"><a [^>]+>(\d+)</a>', page.text, re.S)  # fmt: skip
    assert rows == [("refunds", "0", "2"), ("orders", "1", "3")]  # newest first
    found = client.get("/studio/datasets?search=REF")
    assert "refunds" in found.text and ">orders<" not in found.text
    assert "No dataset name contains" in client.get("/studio/datasets?search=%25").text  # % is taken literally


def test_the_create_form_creates_a_dataset_and_opens_its_draft(client, services):
    answer = client.post("/studio/datasets", {"name": "support-cases", "description": "tickets"},
                         follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303
    ds = answer.headers["location"].split("/")[3]
    assert answer.headers["location"] == f"/studio/datasets/{ds}/draft"
    assert queries.dataset(services.view, ds)["name"] == "support-cases"


def test_the_create_form_refuses_what_post_datasets_refuses_and_keeps_the_values(client, services):
    answer = client.post("/studio/datasets", {"name": "  ", "description": "kept"})
    assert answer.status_code == 422
    assert 'id="form-error"' in answer.text and "(name)" in answer.text and 'value="kept"' in answer.text
    rest = client.client.post("/api/v1/datasets", json={"name": "  "})
    assert rest.json()["message"] in answer.text  # the same message as the REST API
    assert queries.datasets(services.view) == []


def test_a_form_without_the_csrf_token_is_refused_and_writes_nothing(client, services):
    assert _no_token_post(client, "/studio/datasets", {"name": "sneaky"}).status_code == 403
    ds = _dataset(services, 2)
    item = _draft(services, ds)[0]["item_id"]
    for path, data in [
        (f"/studio/datasets/{ds}/draft/items", {"input": "1"}),
        (f"/studio/datasets/{ds}/draft/edit", {"item_id": item, "input": "2"}),
        (f"/studio/datasets/{ds}/draft/remove", {"item_id": item}),
        (f"/studio/datasets/{ds}/publish", {}),
    ]:
        assert _no_token_post(client, path, {**data, "csrf_token": "forged"}).status_code == 403, path
    refused = client.client.post(f"/studio/datasets/{ds}/draft/upload", files={"file": ("a.jsonl", b'{"input": 1}\n')})
    assert refused.status_code == 403
    assert [d["name"] for d in queries.datasets(services.view)] == ["orders"]
    assert [row["input"] for row in _draft(services, ds)] == [{"n": 0}, {"n": 1}]
    assert queries.dataset(services.view, str(ds))["versions"] == 0


# -- a dataset, its versions and the diff -------------------------------------------------------------------------


def test_the_dataset_page_lists_its_versions_and_offers_the_diff(client, services):
    ds = _dataset(services, 3, publish=True)
    services.app.add_items(ds, [{"input": "more"}])
    services.app.publish(ds, "second cut")
    services.catch_up()
    page = client.get(f"/studio/datasets/{ds}")
    assert page.status_code == 200
    versions = re.findall(r'>v(\d+)</a></td>\s*<td class="num">(\d+)</td>\s*<td>([^<]*)</td>', page.text)
    assert versions == [("2", "4", "second cut"), ("1", "3", "")]
    assert f'action="/studio/datasets/{ds}/diff"' in page.text and 'name="base"' in page.text
    assert client.get(f"/studio/datasets/{UUID(int=7)}").status_code == 404


def test_the_diff_shows_added_removed_and_changed_items_with_their_values(client, services):
    ds = services.app.create_dataset("orders").id
    edit = {"id": "edit", "input": "before", "expected_output": 1, "metadata": {"x": XSS}}
    services.app.add_items(ds, [{"id": "keep", "input": 1}, {"id": "gone", "input": {"old": XSS}}, edit])
    v1 = services.app.publish(ds).id
    services.app.remove_item(ds, "gone")
    services.app.replace_item(ds, "edit", {"input": "after", "expected_output": 1})
    services.app.add_items(ds, [{"id": "new", "input": {"fresh": True}, "split": "test"}])
    v2 = services.app.publish(ds).id
    services.catch_up()
    page = client.get(f"/studio/datasets/{ds}/diff?base={v1}&compare={v2}")
    assert page.status_code == 200
    rest = client.client.get(f"/api/v1/datasets/{ds}/versions/{v1}/compare/{v2}").json()
    assert [r["id"] for r in rest["added"]] == ["new"] and [r["id"] for r in rest["changed"]] == ["edit"]
    added = page.text.split('id="diff-added"')[1].split("</table>")[0]
    removed = page.text.split('id="diff-removed"')[1].split("</table>")[0]
    changed = page.text.split('id="diff-changed"')[1].split("</table>")[0]
    assert "<code>new</code>" in added and "&#34;fresh&#34;: true" in added
    assert "<code>gone</code>" in removed and "&lt;script&gt;alert(1)&lt;/script&gt;" in removed
    assert XSS not in page.text
    assert "<code>edit</code>" in changed and "<td>input</td>" in changed and "<td>metadata</td>" in changed
    assert '<span class="line-del">  &#34;x&#34;: &#34;&lt;script&gt;alert(1)&lt;/script&gt;&#34;</span>' in changed
    assert '<span class="line-del">&#34;before&#34;</span>' in changed
    assert '<span class="line-add">&#34;after&#34;</span>' in changed
    other = _dataset(services, 1, name="other", publish=True)
    foreign = client.get(f"/studio/datasets/{ds}/diff?base={v1}&compare={_version(services, other)}")
    assert foreign.status_code == 422 and "belongs to another dataset" in foreign.text
    assert client.get(f"/studio/datasets/{ds}/diff?base=nope&compare={v2}").status_code == 422


# -- a version's items -------------------------------------------------------------------------------------------


def test_a_version_pages_its_items_on_the_server(client, services):
    ds = _dataset(services, 120, publish=True)
    vid = _version(services, ds)
    items = queries.version_items(services.view, vid)
    first = client.get(f"/studio/datasets/{ds}/versions/{vid}")
    assert first.status_code == 200 and "page 1 of 3" in first.text
    assert _shown_ids(first.text) == [item["item_id"] for item in items[:50]]
    second = client.get(f"/studio/datasets/{ds}/versions/{vid}?page=2")
    assert _shown_ids(second.text) == [item["item_id"] for item in items[50:100]]
    assert "&#34;n&#34;: 50" in second.text and "page 2 of 3" in second.text
    assert 'href="?page=1" rel="prev"' in second.text and 'href="?page=3" rel="next"' in second.text
    last = client.get(f"/studio/datasets/{ds}/versions/{vid}?page=99")  # past the end: the last page
    assert _shown_ids(last.text) == [item["item_id"] for item in items[100:]]


def test_a_version_filters_by_split_and_by_text(client, services):
    ds = _dataset(services, 120, publish=True)
    vid = _version(services, ds)
    tests = client.get(f"/studio/datasets/{ds}/versions/{vid}?split=test")
    shown = [int(n) for n in re.findall(r"&#34;n&#34;: (\d+)", tests.text)]
    assert shown == list(range(1, 100, 2)) and "Next →" in tests.text  # the first 50 of 60
    more = re.search(r'href="(\?[^"]*start=\d+)" rel="next"', tests.text)
    assert more is not None
    rest = client.get(f"/studio/datasets/{ds}/versions/{vid}" + more.group(1).replace("&amp;", "&"))
    assert [int(n) for n in re.findall(r"&#34;n&#34;: (\d+)", rest.text)] == list(range(101, 120, 2))
    assert "(to the end)" in rest.text
    text = client.get(f"/studio/datasets/{ds}/versions/{vid}?q=ANSWER 11")  # input or expected output, any case
    assert sorted(int(n) for n in re.findall(r"&#34;n&#34;: (\d+)", text.text)) == [11, *range(110, 120)]
    both = client.get(f"/studio/datasets/{ds}/versions/{vid}?q=answer 11&split=train")
    assert sorted(int(n) for n in re.findall(r"&#34;n&#34;: (\d+)", both.text)) == [110, 112, 114, 116, 118]
    none = client.get(f"/studio/datasets/{ds}/versions/{vid}?q=%25_")
    assert "No items." in none.text  # LIKE wildcards are taken literally


def test_a_filter_reads_a_bounded_stretch_and_goes_on_from_where_it_stopped(client, services, monkeypatch):
    monkeypatch.setattr(studio_datasets, "SCAN_WINDOW", 10)
    monkeypatch.setattr(studio_datasets, "MAX_SCAN", 30)
    ds = _dataset(services, 100, publish=True)
    vid = _version(services, ds)
    page = client.get(f"/studio/datasets/{ds}/versions/{vid}?q=answer 9")
    assert re.findall(r"&#34;n&#34;: (\d+)", page.text) == ["9"]
    assert "among items 0 to 29 of 100" in page.text and "Search on →" in page.text
    on = client.get(f"/studio/datasets/{ds}/versions/{vid}?q=answer+9&start=30")
    assert re.findall(r"&#34;n&#34;: (\d+)", on.text) == []  # 30..59 hold no "answer 9"
    end = client.get(f"/studio/datasets/{ds}/versions/{vid}?q=answer+9&start=90")
    assert [int(n) for n in re.findall(r"&#34;n&#34;: (\d+)", end.text)] == list(range(90, 100))
    assert "(to the end)" in end.text


def test_item_values_render_as_text(client, services):
    ds = services.app.create_dataset(XSS).id
    services.app.add_items(ds, [{"input": XSS, "expected_output": {"x": XSS}, "metadata": {"m": XSS}, "split": XSS}])
    vid = services.app.publish(ds, XSS).id
    services.catch_up()
    for path in ("/studio/datasets", f"/studio/datasets/{ds}", f"/studio/datasets/{ds}/versions/{vid}",
                 f"/studio/datasets/{ds}/draft", f"/studio/datasets/{ds}/versions/{vid}?q=script"):  # fmt: skip
        page = client.get(path)
        assert page.status_code == 200, path
        assert XSS not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text, path


def test_a_version_of_another_dataset_or_project_is_not_shown(client, services):
    ds = _dataset(services, 2, publish=True)
    other = _dataset(services, 2, name="other", publish=True)
    assert client.get(f"/studio/datasets/{ds}/versions/{_version(services, other)}").status_code == 422
    assert client.get(f"/studio/datasets/{ds}/versions/{UUID(int=3)}").status_code == 404
    services.app.create_project("elsewhere", "Elsewhere")
    client.client.cookies.set("agnt5_studio_project", "elsewhere", path="/studio")
    assert client.get(f"/studio/datasets/{ds}").status_code == 404
    assert client.get(f"/studio/datasets/{ds}/versions/{_version(services, ds)}").status_code == 404
    assert "orders" not in client.get("/studio/datasets").text


# -- the draft -----------------------------------------------------------------------------------------------------


def test_the_add_item_form_adds_an_item_to_the_draft(client, services):
    ds = _dataset(services)
    answer = client.post(f"/studio/datasets/{ds}/draft/items", {"input": '{"q": "where?"}', "expected_output": '"here"',
                         "metadata": '{"source": "form"}', "split": "test", "item_id": "q1"})  # fmt: skip
    assert answer.status_code == 200 and "Added item q1." in answer.text
    (row,) = _draft(services, ds)
    assert (row["item_id"], row["input"], row["expected_output"]) == ("q1", {"q": "where?"}, "here")
    assert (row["metadata"], row["split"]) == ({"source": "form"}, "test")
    client.post(f"/studio/datasets/{ds}/draft/items", {"input": "42"})
    assert [r["input"] for r in _draft(services, ds)] == [{"q": "where?"}, 42]
    assert _draft(services, ds)[1]["expected_output"] is None  # empty: absent
    assert "Added item" not in client.get(f"/studio/datasets/{ds}/draft?added=made-up").text


@pytest.mark.parametrize(
    ("form", "status", "field", "message"),
    [
        ({"input": ""}, 422, "input", "enter the item's input"),
        ({"input": "{'q': 1}"}, 422, "input", "malformed JSON"),
        ({"input": '{"a": 1, "a": 2}'}, 422, "input", "appears twice"),
        ({"input": "1", "expected_output": "nope"}, 422, "expected_output", "malformed JSON"),
        ({"input": "1", "metadata": "[1]"}, 422, "metadata", "must be a JSON object"),
        ({"input": "1", "item_id": "taken"}, 409, "", "item id taken is already in the draft"),
    ],
)
def test_the_add_item_form_refuses_a_bad_field_by_name_and_writes_nothing(client, services, form, status, field,
                                                                          message):  # fmt: skip
    ds = _dataset(services)
    services.app.add_items(ds, [{"id": "taken", "input": 0}])
    answer = client.post(f"/studio/datasets/{ds}/draft/items", {"split": "kept", **form})
    assert answer.status_code == status
    error = html.unescape(answer.text.split('id="form-error">')[1].split("</p>")[0])
    assert message in error and (f"({field})" in error if field else True)
    assert 'value="kept"' in answer.text  # the form keeps what was typed
    assert [row["item_id"] for row in _draft(services, ds)] == ["taken"]


def test_the_draft_pages_its_items(client, services):
    ds = _dataset(services, 120)
    rows = _draft(services, ds)
    second = client.get(f"/studio/datasets/{ds}/draft?page=2")
    assert second.status_code == 200 and "page 2 of 3" in second.text
    assert _shown_ids(second.text) == [row["item_id"] for row in rows[50:100]]
    assert _shown_ids(client.get(f"/studio/datasets/{ds}/draft?page=last").text) == [r["item_id"] for r in rows[100:]]


def test_an_item_is_edited_in_place_of_the_old_one(client, services):
    ds = _dataset(services, 3)
    target = _draft(services, ds)[1]["item_id"]
    form = client.get(f"/studio/datasets/{ds}/draft?edit={target}")
    assert 'id="edit-item"' in form.text and "&#34;n&#34;: 1" in form.text  # prefilled with its values
    answer = client.post(f"/studio/datasets/{ds}/draft/edit", {"item_id": target, "input": '{"n": "edited"}',
                         "expected_output": "", "metadata": '{"by": "hand"}', "split": "dev"},
                         follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303
    rows = _draft(services, ds)
    assert len(rows) == 3 and [r["item_id"] for r in rows].count(target) == 1
    edited = next(r for r in rows if r["item_id"] == target)
    assert (edited["input"], edited["expected_output"], edited["metadata"], edited["split"]) == (
        {"n": "edited"}, None, {"by": "hand"}, "dev")  # fmt: skip
    names = [type(e).__qualname__ for e in services.app.repository.event_store.get(ds)][-2:]
    assert names == ["Dataset.ItemsRemoved", "Dataset.ItemsAdded"]  # history kept: new events, none changed


def test_an_edit_is_refused_by_field_and_changes_nothing(client, services):
    ds = _dataset(services, 2)
    target = _draft(services, ds)[0]["item_id"]
    bad = client.post(f"/studio/datasets/{ds}/draft/edit", {"item_id": target, "input": "{", "split": "x"})
    assert bad.status_code == 422 and "(input)" in bad.text and 'id="edit-item"' in bad.text
    missing = client.post(f"/studio/datasets/{ds}/draft/edit", {"item_id": "ghost", "input": "1"})
    assert missing.status_code == 404 and "(item_id)" in missing.text
    assert [r["input"] for r in _draft(services, ds)] == [{"n": 0}, {"n": 1}]
    assert client.get(f"/studio/datasets/{ds}/draft?edit=ghost").status_code == 404


def test_an_item_is_removed_from_the_draft_and_the_version_keeps_it(client, services):
    ds = _dataset(services, 3, publish=True)
    services.app.restore_draft(ds, UUID(_version(services, ds)))
    target = _draft(services, ds)[0]["item_id"]  # an item of the restored version: referenced, not copied
    answer = client.post(f"/studio/datasets/{ds}/draft/remove", {"item_id": target, "page": "1"},
                         follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303 and answer.headers["location"].endswith("/draft?page=1#items")
    assert target not in [r["item_id"] for r in _draft(services, ds)]
    assert queries.dataset(services.view, str(ds))["draft_items"] == 2
    assert target in [item["item_id"] for item in queries.version_items(services.view, _version(services, ds))]
    again = client.post(f"/studio/datasets/{ds}/draft/remove", {"item_id": target})
    assert again.status_code == 404 and "(item_id)" in again.text


def test_the_rest_api_removes_a_draft_item(client, services):
    ds = _dataset(services, 2)
    target = _draft(services, ds)[0]["item_id"]
    answer = client.client.delete(f"/api/v1/datasets/{ds}/items/{target}")
    assert answer.status_code == 200 and answer.json() == {"id": str(ds), "item_id": target, "draft_items": 1}
    missing = client.client.delete(f"/api/v1/datasets/{ds}/items/{target}")
    assert missing.status_code == 404 and missing.json()["field"] == "item_id" and target in missing.json()["message"]
    assert client.client.delete(f"/api/v1/datasets/{UUID(int=1)}/items/x").status_code == 404


def _upload(client: Any, ds: UUID, name: str, body: bytes, fmt: str = "auto") -> Any:
    return client.client.post(f"/studio/datasets/{ds}/draft/upload", data={"csrf_token": client.token, "format": fmt},
                              files={"file": (name, body, "application/octet-stream")})  # fmt: skip


def test_a_jsonl_or_csv_file_is_uploaded_into_the_draft(client, services):
    ds = _dataset(services)
    jsonl = b'{"input": {"q": 1}, "expected_output": "a", "split": "test"}\n\n{"input": 2, "metadata": {"m": 1}}\n'
    answer = _upload(client, ds, "cases.jsonl", jsonl)
    assert answer.status_code == 200 and "Added 2 items." in answer.text  # after the redirect (reloading adds none)
    csv = b'input,expected_output,split,metadata\n"{""q"": 3}",b,train,"{""m"": 2}"\nplain text,,,\n'
    assert "Added 2 items." in _upload(client, ds, "cases.csv", csv).text
    rows = _draft(services, ds)
    assert [(r["input"], r["expected_output"], r["split"], r["metadata"]) for r in rows] == [
        ({"q": 1}, "a", "test", {}), (2, None, None, {"m": 1}), ({"q": 3}, "b", "train", {"m": 2}),
        ("plain text", None, None, {}),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "body", "words"),
    [
        ("a.jsonl", b'{"input": 1}\n{"input": 2,}\n', ["line 2", "malformed JSON"]),
        ("a.jsonl", b'{"input": 1}\n\n{"expected_output": 2}\n', ["line 3", "'input' is required"]),
        ("a.jsonl", b'{"input": 1, "colour": 2}\n', ["line 1", "unknown field 'colour'"]),
        ("a.jsonl", b"\n\n", ["no items"]),
        ("a.csv", b'input,metadata\n1,{}\n2,"[1]"\n', ["line 3", "metadata", "nothing was imported"]),
        ("a.csv", b'input\n"unclosed\n', ["malformed CSV"]),
        ("a.jsonl", b"\xff\xfe", ["not UTF-8"]),
    ],
)
def test_a_bad_file_is_refused_whole_naming_the_line(client, services, name, body, words):
    ds = _dataset(services, 1)
    answer = _upload(client, ds, name, body)
    assert answer.status_code == 422
    error = html.unescape(answer.text.split('id="upload-error">')[1].split("</p>")[0])
    assert all(word in error for word in words), error
    assert len(_draft(services, ds)) == 1


def test_publishing_the_draft_opens_the_new_version(client, services):
    ds = _dataset(services, 2)
    answer = client.post(f"/studio/datasets/{ds}/publish", {"description": "first cut"}, follow_redirects=False)
    assert answer.status_code == 303
    vid = _version(services, ds)
    assert answer.headers["location"] == f"/studio/datasets/{ds}/versions/{vid}"
    page = client.get(answer.headers["location"])
    assert "first cut" in page.text and len(_shown_ids(page.text)) == 2
    again = client.post(f"/studio/datasets/{ds}/publish", {"description": "nothing new"})
    assert again.status_code == 409 and "no unpublished changes" in again.text and 'value="nothing new"' in again.text
    assert queries.dataset(services.view, str(ds))["versions"] == 1


# -- in a browser --------------------------------------------------------------------------------------------------


def test_a_dataset_is_made_filled_and_published_in_the_browser(tab, studio_url, tmp_path):
    tab.goto(f"{studio_url}/studio/datasets")
    tab.fill("#new-dataset input[name=name]", "browser-cases")
    tab.click("#new-dataset button")
    tab.wait_for_url(re.compile(r".*/draft$"))
    tab.fill("#add-item textarea[name=input]", '{"question": "where is order 7?"}')
    tab.fill("#add-item textarea[name=expected_output]", f'"{XSS}"')
    tab.fill("#add-item input[name=split]", "test")
    tab.click("#add-item button")
    tab.wait_for_selector("#ok")
    cases = tmp_path / "cases.jsonl"
    cases.write_text('{"input": {"question": "refund?"}, "expected_output": "yes"}\n{"input": "hello"}\n')
    tab.set_input_files("#upload-form input[type=file]", str(cases))
    tab.click("#upload-form button")
    tab.wait_for_selector("text=Added 2 items.")
    assert tab.inner_text("#draft-count") == "(3)"
    tab.fill("#publish-form input[name=description]", "from the browser")
    tab.click("#publish-form button")  # data-confirm: the tab accepts
    tab.wait_for_url(re.compile(r".*/versions/[0-9a-f-]+$"))
    assert tab.inner_text("#n-items") == "3"
    assert len(tab.query_selector_all("#items tbody tr[data-item-id]")) == 3
    assert XSS in tab.inner_text("#items")  # shown as text, never run (the tab fails the test on an alert)
    tab.fill("#filters input[name=q]", "refund")
    tab.click("#filters button")
    tab.wait_for_selector("#scanned")
    assert len(tab.query_selector_all("#items tbody tr[data-item-id]")) == 1
