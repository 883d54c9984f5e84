"""Strict JSON: what would be changed silently on its way into the log is refused, naming the field (issue 9, 7).

Duplicate keys, NaN/Infinity, integers beyond 64 bits and lone surrogates, in JSONL and CSV uploads, JSON options
and REST bodies; numeric item ids; the dataset id of a version-items path.
"""

from __future__ import annotations

import json

import pytest

from agnt5_evals.domain import jsonio
from agnt5_evals.domain.errors import Invalid
from tests.cli.conftest import data, out
from tests.reliability.conftest import problem

BIG = 2**64  # one past the largest integer the log's encoder keeps exactly

REFUSED = [
    ('{"input": 1, "input": 2}', "items[0]", "the key 'input' appears twice"),
    (f'{{"input": {{"n": {BIG}}}}}', "items[0].input.n", "outside 64 bits"),
    ('{"input": 1, "metadata": {"score": NaN}}', "items[0].metadata.score", "NaN is not JSON"),
    ('{"input": [1e999]}', "items[0].input[0]", "too large"),
    ('{"input": "\\ud800"}', "items[0].input", "lone surrogate"),
]


@pytest.mark.parametrize(("text", "field", "message"), REFUSED)
def test_the_strict_reader_refuses_with_the_path(text, field, message):
    with pytest.raises(Invalid) as caught:
        jsonio.loads(text, "items[0]", line=4)
    assert (caught.value.field, caught.value.message.startswith("line 4: ")) == (field, True)
    assert message in caught.value.message


def test_the_strict_reader_keeps_what_it_accepts_exactly():
    text = f'{{"max": {2**64 - 1}, "min": {-(2**63)}, "pair": "\\ud83d\\ude00", "f": 1.5, "a": [1, "5"]}}'
    assert jsonio.loads(text, "x") == {"max": 2**64 - 1, "min": -(2**63), "pair": "\U0001f600", "f": 1.5,
                                       "a": [1, "5"]}  # fmt: skip


@pytest.mark.parametrize(("text", "field", "message"), REFUSED)
def test_a_jsonl_upload_is_refused_whole(agnt5, text, field, message):
    ds = out(agnt5("datasets", "create", "--name", "strict"))
    result = agnt5("datasets", "upload", ds, input='{"input": 0}\n' + text + "\n", code=1)
    assert "error: --file: line 2: " in result.stderr and message in result.stderr
    assert data(agnt5("datasets", "show", ds, "--format", "json"))["draft_items"] == 0


@pytest.mark.parametrize(("text", "field", "message"), REFUSED)
def test_a_rest_body_is_refused_with_the_field(client, text, field, message):
    created = client.post("/api/v1/datasets", json={"name": "strict"}).json()
    body = text.replace("items[0]", "")
    response = client.post(f"/api/v1/datasets/{created['id']}/items", content=f'{{"items": [{body}]}}',
                           headers={"content-type": "application/json"})  # fmt: skip
    refused = problem(response)
    assert (refused["field"], message in refused["message"]) == (field, True)


def test_json_options_and_csv_cells_are_strict(agnt5):
    ds = out(agnt5("datasets", "create", "--name", "strict"))
    twice = agnt5("datasets", "add-example", ds, "--input", "1", "--metadata", '{"a": 1, "a": 2}', code=1)
    assert "--metadata: the key 'a' appears twice" in twice.stderr
    big = agnt5("datasets", "add-example", ds, "--input", str(BIG), code=1)
    assert "--input: the integer 18446744073709551616 is outside 64 bits" in big.stderr
    csv = f'input,expected_output\n"{{""a"": 1, ""a"": 2}}",1\n2,{BIG}\n'
    result = agnt5("datasets", "upload-csv", ds, "--no-partial", input=csv, code=1)
    assert "line 2: input: the key 'a' appears twice" in result.stderr
    assert data(agnt5("datasets", "show", ds, "--format", "json"))["draft_items"] == 0


def test_a_numeric_item_id_is_refused_and_a_string_one_kept(agnt5):
    ds = out(agnt5("datasets", "create", "--name", "ids"))
    refused = agnt5("datasets", "upload", ds, input='{"id": 5, "input": 1}\n', code=1)
    assert "field 'id' must be a string" in refused.stderr
    agnt5("datasets", "upload", ds, input='{"id": "5", "input": 1}\n')
    version = out(agnt5("datasets", "publish", ds))
    exported = agnt5("datasets", "versions", "export", ds, version).stdout
    assert [json.loads(line)["id"] for line in exported.splitlines()] == ["5"]


def test_version_items_of_another_dataset_are_not_found(client):
    ids = []
    for name in ("one", "two"):
        ds = client.post("/api/v1/datasets", json={"name": name}).json()["id"]
        client.post(f"/api/v1/datasets/{ds}/items", json={"items": [{"input": name}]})
        ids.append((ds, client.post(f"/api/v1/datasets/{ds}/publish", json={}).json()["id"]))
    (one, v1), (two, _) = ids
    assert [i["input"] for i in client.get(f"/api/v1/datasets/{one}/versions/{v1}/items").json()] == ["one"]
    refused = problem(client.get(f"/api/v1/datasets/{two}/versions/{v1}/items"), 404)
    assert refused["field"] == "version_id"
    assert json.loads(json.dumps(refused))["code"] == "not_found"
