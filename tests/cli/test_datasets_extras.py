"""The rest of `agnt5 datasets` (spec 2.1): export, compare, restore-draft, examples, add-run, CSV, dedup."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import data, log_head, on_the_server, out

MISSING = "00000000-0000-4000-8000-000000000000"
pytestmark = pytest.mark.both_modes


def jsonl(*items: dict) -> str:
    return "\n".join(json.dumps(item) for item in items) + "\n"


@pytest.fixture
def ds(agnt5) -> str:
    """A dataset whose draft holds three items (two of them duplicates) and a version 1 of them."""
    dataset = out(agnt5("datasets", "create", "--name", "cases"))
    agnt5("datasets", "upload", dataset, input=jsonl(
        {"input": {"q": "a", "n": 1}, "expected_output": "A", "metadata": {"tag": "x"}, "split": "test"},
        {"input": {"n": 1, "q": "a"}, "expected_output": "A", "events": [{"type": "tool.call.started"}]},
        {"input": "b", "expected_output": None},
    ))  # fmt: skip
    return dataset


def versions(agnt5, dataset: str) -> list[dict]:
    return data(agnt5("datasets", "versions", "list", dataset, "--format", "json"))


def draft(agnt5, dataset: str) -> list[dict]:
    return data(agnt5("datasets", "examples", "list", dataset, "--draft", "--include-payload", "--format", "json"))


# -- versions export ---------------------------------------------------------------------------------------------


def test_export_reuploaded_gives_an_identical_version(agnt5, ds, tmp_path):
    v1 = out(agnt5("datasets", "publish", ds))
    lines = out(agnt5("datasets", "versions", "export", ds, v1)).splitlines()
    items = [json.loads(line) for line in lines]
    assert [list(item) for item in items] == [["input", "expected_output", "metadata", "events", "split", "id"]] * 3
    assert items[0]["metadata"] == {"tag": "x"} and items[0]["split"] == "test"
    assert items[1]["events"] == [{"type": "tool.call.started"}] and items[2]["expected_output"] is None
    path = tmp_path / "v1.jsonl"
    written = data(agnt5("datasets", "versions", "export", ds, v1, "--out-file", str(path), "--format", "json"))
    assert written["items"] == 3 and path.read_text().splitlines() == lines
    copy = out(agnt5("datasets", "create", "--name", "copy"))
    agnt5("datasets", "upload", copy, "--file", str(path))
    copy_v1 = out(agnt5("datasets", "publish", copy))
    assert out(agnt5("datasets", "versions", "export", copy, copy_v1)).splitlines() == lines


def test_export_errors_name_the_argument(agnt5, ds):
    v1 = out(agnt5("datasets", "publish", ds))
    other = out(agnt5("datasets", "create", "--name", "other"))
    before = log_head()
    assert (
        "VERSION_ID: 'nope' is neither a dataset version id nor a version number"
        in agnt5("datasets", "versions", "export", ds, "nope", code=1).stderr
    )
    assert (
        f"VERSION_ID: dataset version {MISSING} not found"
        in agnt5("datasets", "versions", "export", ds, MISSING, code=1).stderr
    )
    assert "VERSION_ID: version" in agnt5("datasets", "versions", "export", other, v1, code=1).stderr
    assert f"dataset {MISSING} not found" in agnt5("datasets", "versions", "export", MISSING, v1, code=1).stderr
    assert (
        "--out-file: cannot write"
        in agnt5("datasets", "versions", "export", ds, v1, "--out-file", "/nonexistent/dir/x.jsonl", code=1).stderr
    )
    assert log_head() == before


# -- versions compare --------------------------------------------------------------------------------------------


def test_compare_reports_added_removed_and_changed_fields(agnt5, ds, tmp_path):
    v1 = out(agnt5("datasets", "publish", ds))
    items = [json.loads(line) for line in out(agnt5("datasets", "versions", "export", ds, v1)).splitlines()]
    target = out(agnt5("datasets", "create", "--name", "edited"))
    agnt5("datasets", "upload", target, input=jsonl(*items))
    base = out(agnt5("datasets", "publish", target))
    agnt5("datasets", "dedup", "apply", target, "--remove-item-id", items[1]["id"])  # item 1 duplicates item 0
    items[1].update(expected_output="B", split="train")
    agnt5("datasets", "upload", target, input=jsonl(items[1], {"input": "new"}))  # same id, changed fields
    compare = out(agnt5("datasets", "publish", target))
    result = data(agnt5("datasets", "versions", "compare", target, base, compare, "--format", "json"))
    assert (result["base_number"], result["compare_number"]) == (1, 2)
    assert result["changed"] == [{"id": items[1]["id"], "fields": ["expected_output", "split"]}]
    assert len(result["added"]) == 1 and result["removed"] == [] and result["unchanged"] == 2
    back = data(agnt5("datasets", "versions", "compare", target, compare, base, "--format", "json"))
    assert back["removed"] == result["added"] and back["added"] == []
    table = out(agnt5("datasets", "versions", "compare", target, base, compare))
    assert "added 1, removed 0, changed 1, unchanged 2" in table and "expected_output" in table


def test_compare_names_each_version_argument(agnt5, ds):
    v1 = out(agnt5("datasets", "publish", ds))
    before = log_head()
    assert (
        f"BASE_VERSION_ID: dataset version {MISSING} not found"
        in agnt5("datasets", "versions", "compare", ds, MISSING, v1, code=1).stderr
    )
    assert (
        "COMPARE_VERSION_ID: 'x' is neither a dataset version id nor a version number"
        in agnt5("datasets", "versions", "compare", ds, v1, "x", code=1).stderr
    )
    assert log_head() == before


# -- versions restore-draft --------------------------------------------------------------------------------------


def test_restore_draft_makes_the_draft_exactly_that_version(agnt5, ds):
    v1 = out(agnt5("datasets", "publish", ds))
    v1_items = data(agnt5("datasets", "examples", "list", ds, "--include-payload", "--format", "json"))
    agnt5("datasets", "dedup", "apply", ds)
    agnt5("datasets", "add-example", ds, "--input", '"later"')
    assert len(draft(agnt5, ds)) == 3
    restored = data(agnt5("datasets", "versions", "restore-draft", ds, v1, "--format", "json"))
    assert restored["draft_items"] == 3 and restored["restored_version_id"] == v1
    assert draft(agnt5, ds) == v1_items
    added = out(agnt5("datasets", "add-example", ds, "--input", '"after restore"'))
    assert [row["id"] for row in draft(agnt5, ds)] == [*(i["id"] for i in v1_items), added]
    v2 = data(agnt5("datasets", "publish", ds, "--format", "json"))
    assert v2["number"] == 2 and v2["n_items"] == 4
    assert data(agnt5("datasets", "examples", "list", ds, "--format", "json"))[-1]["id"] == added
    # restoring twice in a row, and after a rebuild of the read model, gives the same draft
    agnt5("datasets", "versions", "restore-draft", ds, v1)
    agnt5("datasets", "versions", "restore-draft", ds, v1)
    assert draft(agnt5, ds) == v1_items
    with on_the_server():  # maintenance runs where the store is
        agnt5("projections", "rebuild")
    assert draft(agnt5, ds) == v1_items


def test_a_restored_item_id_cannot_be_added_twice(agnt5, ds):
    v1 = out(agnt5("datasets", "publish", ds))
    exported = out(agnt5("datasets", "versions", "export", ds, v1)).splitlines()
    agnt5("datasets", "versions", "restore-draft", ds, v1)
    before = log_head()
    assert "is already in the draft" in agnt5("datasets", "upload", ds, input=exported[0] + "\n", code=1).stderr
    assert log_head() == before


def test_restore_draft_errors(agnt5, ds):
    v1 = out(agnt5("datasets", "publish", ds))
    other = out(agnt5("datasets", "create", "--name", "other"))
    before = log_head()
    assert "VERSION_ID: version" in agnt5("datasets", "versions", "restore-draft", other, v1, code=1).stderr
    assert (
        f"VERSION_ID: dataset version {MISSING} not found"
        in agnt5("datasets", "versions", "restore-draft", ds, MISSING, code=1).stderr
    )
    assert f"dataset {MISSING} not found" in agnt5("datasets", "versions", "restore-draft", MISSING, v1, code=1).stderr
    assert log_head() == before


# -- examples list -----------------------------------------------------------------------------------------------


def test_examples_list_by_version_number_without_payloads_unless_asked(agnt5, ds):
    out(agnt5("datasets", "publish", ds))
    agnt5("datasets", "add-example", ds, "--input", '"v2 only"')
    out(agnt5("datasets", "publish", ds))
    latest = data(agnt5("datasets", "examples", "list", ds, "--format", "json"))
    first = data(agnt5("datasets", "examples", "list", ds, "--version", "1", "--format", "json"))
    assert (len(latest), len(first)) == (4, 3)
    row = first[0]
    assert row == {"id": row["id"], "position": 0, "split": "test", "metadata_keys": ["tag"],
                   "input_bytes": len('{"n":1,"q":"a"}'), "expected_output_bytes": 3, "events": 0}  # fmt: skip
    assert "input" not in row
    full = data(agnt5("datasets", "examples", "list", ds, "--version", "1", "--include-payload", "--format", "json"))
    assert full[1]["input"] == {"n": 1, "q": "a"} and full[1]["events"] == [{"type": "tool.call.started"}]
    assert "v2 only" in out(agnt5("datasets", "examples", "list", ds, "--include-payload"))


def test_examples_list_errors(agnt5, ds):
    assert "has no published version yet" in agnt5("datasets", "examples", "list", ds, code=1).stderr
    agnt5("datasets", "publish", ds)
    assert "--version: dataset" in agnt5("datasets", "examples", "list", ds, "--version", "7", code=1).stderr
    assert "--version" in agnt5("datasets", "examples", "list", ds, "--version", "two", code=1).stderr
    assert f"dataset {MISSING} not found" in agnt5("datasets", "examples", "list", MISSING, code=1).stderr


# -- add-run -----------------------------------------------------------------------------------------------------


def test_add_run_imports_output_and_trace_as_expected_output(agnt5, page):
    run = data(agnt5("experiments", "run", page["experiment"], "--wait", "--format", "json"))
    target = out(agnt5("datasets", "create", "--name", "from-run"))
    result = data(agnt5("datasets", "add-run", target, run["id"], "--metadata", '{"why": "golden"}', "--format",
                        "json"))  # fmt: skip
    assert result["added"] == 6 and result["draft_items"] == 6
    rows = draft(agnt5, target)
    assert [r["input"] for r in rows] == [{"order_id": n} for n in range(1, 7)]
    assert rows[0]["expected_output"] == {"answer": "Order 1 is shipped"}
    assert any(e["event_type"] == "tool.call.completed" for e in rows[0]["events"])
    meta = rows[0]["metadata"]
    assert meta["why"] == "golden" and meta["source_run_id"] == run["id"] and meta["source_run_item_id"]
    assert "source_output" not in meta


def test_add_run_with_expected_output_and_chosen_items(agnt5, page):
    run = data(agnt5("experiments", "run", page["experiment"], "--wait", "--format", "json"))
    first = data(agnt5("datasets", "add-run", page["dataset"], run["id"], "--format", "json"))
    assert first["added"] == 6
    chosen = draft(agnt5, page["dataset"])[-1]["metadata"]["source_run_item_id"]
    target = out(agnt5("datasets", "create", "--name", "chosen"))
    agnt5("datasets", "add-run", target, run["id"], "--run-item-id", chosen, "--expected-output", '{"ok": true}')
    (row,) = draft(agnt5, target)
    assert row["expected_output"] == {"ok": True} and row["input"] == {"order_id": 6}
    assert row["metadata"]["source_run_item_id"] == chosen
    assert row["metadata"]["source_output"] == {"answer": "Order 6 is shipped"}


def test_add_run_errors_write_nothing(agnt5, page):
    run = data(agnt5("experiments", "run", page["experiment"], "--wait", "--format", "json"))
    ds = page["dataset"]
    before = log_head()
    assert f"RUN_ID: run {MISSING} not found" in agnt5("datasets", "add-run", ds, MISSING, code=1).stderr
    assert "RUN_ID: no run 'r' in this project" in agnt5("datasets", "add-run", ds, "r", code=1).stderr
    assert f"dataset {MISSING} not found" in agnt5("datasets", "add-run", MISSING, run["id"], code=1).stderr
    assert (
        f"--run-item-id: run item {MISSING} is not part of run"
        in agnt5("datasets", "add-run", ds, run["id"], "--run-item-id", MISSING, code=1).stderr
    )
    assert (
        "--expected-output: malformed JSON"
        in agnt5("datasets", "add-run", ds, run["id"], "--expected-output", "{x", code=1).stderr
    )
    assert (
        "--metadata: must be a JSON object"
        in agnt5("datasets", "add-run", ds, run["id"], "--metadata", "[1]", code=1).stderr
    )
    assert log_head() == before


# -- upload-csv --------------------------------------------------------------------------------------------------

CSV = (
    "question,answer,part,meta,trace,labels,run,ref\n"
    '"{""order_id"": 1}",42,test,"{""lang"": ""en""}","[{""type"": ""lm.call.completed""}]","a, b",r1,doc-1\n'
    'plain text,"multi\nline",train,,,["x"],,\n'
)
MAPPING = ("--input-column", "question", "--expected-output-column", "answer", "--split-column", "part",
           "--metadata-column", "meta", "--events-column", "trace", "--tags-column", "labels",
           "--source-run-id-column", "run", "--source-ref-column", "ref")  # fmt: skip


def test_upload_csv_maps_columns_and_parses_json_cells(agnt5, store, tmp_path):
    ds = out(agnt5("datasets", "create", "--name", "csv"))
    path = tmp_path / "cases.csv"
    path.write_text(CSV)
    result = data(agnt5("datasets", "upload-csv", ds, "--file", str(path), *MAPPING, "--format", "json"))
    assert (result["rows"], result["added"], result["errors"]) == (2, 2, [])
    first, second = (dict(row, id=None) for row in draft(agnt5, ds))
    metadata = {"lang": "en", "tags": ["a", "b"], "source_run_id": "r1", "source_ref": "doc-1"}
    assert first == {
        "id": None, "position": 0, "split": "test", "metadata_keys": sorted(metadata), "input_bytes": 14,
        "expected_output_bytes": 2, "events": [{"type": "lm.call.completed"}], "input": {"order_id": 1},
        "expected_output": 42, "metadata": metadata,
    }  # fmt: skip
    assert (second["input"], second["expected_output"], second["split"]) == ("plain text", "multi\nline", "train")
    assert second["metadata"] == {"tags": ["x"]} and second["events"] == []


def test_upload_csv_without_header_delimiter_and_constant_source_ref(agnt5, store):
    ds = out(agnt5("datasets", "create", "--name", "csv"))
    text = '{"a": 1};yes\nhello;"{""b"": 2}"\n'
    agnt5("datasets", "upload-csv", ds, "--no-header", "--delimiter", ";", "--expected-output-column", "1",
          "--source-ref", "import-7", input=text)  # fmt: skip
    rows = draft(agnt5, ds)
    assert [(r["input"], r["expected_output"]) for r in rows] == [({"a": 1}, "yes"), ("hello", {"b": 2})]
    assert all(r["metadata"] == {"source_ref": "import-7"} for r in rows)


BAD = 'input,meta\n1,{}\n2,"[1]"\n3,{}\n'


def test_upload_csv_partial_imports_the_valid_rows_and_names_the_bad_ones(agnt5, store):
    ds = out(agnt5("datasets", "create", "--name", "csv"))
    result = agnt5("datasets", "upload-csv", ds, "--metadata-column", "meta", input=BAD)
    assert "skipped line 3: metadata: must be a JSON object" in result.stderr
    assert [r["input"] for r in draft(agnt5, ds)] == [1, 3]
    as_json = data(agnt5("datasets", "upload-csv", ds, "--metadata-column", "meta", "--format", "json", input=BAD))
    assert as_json["added"] == 2
    assert as_json["errors"] == [{"line": 3, "field": "metadata", "message": "line 3: metadata: must be a JSON object"}]


@pytest.mark.parametrize("flag", ["--no-partial", "--partial=false"])
def test_upload_csv_all_or_nothing_rejects_a_bad_row(agnt5, store, flag):
    ds = out(agnt5("datasets", "create", "--name", "csv"))
    before = log_head()
    result = agnt5("datasets", "upload-csv", ds, "--metadata-column", "meta", flag, input=BAD, code=1)
    assert result.stderr.strip() == "error: --file: line 3: metadata: must be a JSON object; nothing was imported"
    assert log_head() == before


def test_upload_csv_bad_input_writes_nothing(agnt5, store):
    ds = out(agnt5("datasets", "create", "--name", "csv"))
    before = log_head()
    cases = [
        (["--metadata-column", "meta"], "input,meta\n1,nope\n", "no valid rows: line 2: metadata: malformed JSON"),
        ([], "input,x\n,1\n", "line 2: input: the input cell is empty"),
        (["--events-column", "x"], 'input,x\n1,"{}"\n', "line 2: events: must be a JSON array"),
        (["--input-column", "q"], "input\n1\n", "--input-column: no column 'q' in the header (columns: input)"),
        (["--no-header", "--input-column", "q"], "1\n", "--input-column: 'q' is not a column index"),
        (["--no-header", "--split-column", "3"], "1,2\n", "--split-column: column 3 does not exist"),
        ([], 'input\n"a"b\n', "--file: line 2: malformed CSV"),
        ([], "input\n", "--file: the CSV holds no data rows"),
        (["--delimiter", ";;"], "input\n1\n", "--delimiter: must be one character"),
        (["--source-ref", "r", "--source-ref-column", "input"], "input\n1\n", "--source-ref, --source-ref-column"),
        (["--file", "/nonexistent.csv"], None, "--file: cannot read /nonexistent.csv"),
    ]
    for args, text, message in cases:
        assert message in agnt5("datasets", "upload-csv", ds, *args, input=text, code=1).stderr, message
    assert f"dataset {MISSING} not found" in agnt5("datasets", "upload-csv", MISSING, input="input\n1\n", code=1).stderr
    assert log_head() == before


# -- dedup -------------------------------------------------------------------------------------------------------


def test_dedup_preview_groups_equal_canonical_input_and_expected_output(agnt5, ds):
    agnt5("datasets", "upload", ds, input=jsonl({"input": "b"}, {"input": "b", "expected_output": "other"}))
    rows = draft(agnt5, ds)
    preview = data(agnt5("datasets", "dedup", "preview", ds, "--format", "json"))
    assert preview["draft_items"] == 5 and preview["duplicates"] == 2
    assert [(g["keep"], g["remove"]) for g in preview["groups"]] == [
        (rows[0]["id"], [rows[1]["id"]]),
        (rows[2]["id"], [rows[3]["id"]]),  # "expected_output": null and absent are the same
    ]
    assert "input" not in preview["groups"][0]
    shown = data(agnt5("datasets", "dedup", "preview", ds, "--include-preview", "--format", "json"))
    assert shown["groups"][0]["input"] == {"q": "a", "n": 1} and shown["groups"][0]["expected_output"] == "A"
    assert "2 duplicate groups, 2 items to remove of 5" in agnt5("datasets", "dedup", "preview", ds).stderr


def test_dedup_apply_keeps_the_earliest_of_each_group(agnt5, ds):
    rows = draft(agnt5, ds)
    result = data(agnt5("datasets", "dedup", "apply", ds, "--format", "json"))
    assert result["removed_item_ids"] == [rows[1]["id"]] and result["draft_items"] == 2
    assert [r["id"] for r in draft(agnt5, ds)] == [rows[0]["id"], rows[2]["id"]]
    before = log_head()
    assert data(agnt5("datasets", "dedup", "apply", ds, "--format", "json"))["removed"] == 0
    assert log_head() == before  # nothing to remove: nothing written
    assert data(agnt5("datasets", "dedup", "preview", ds, "--format", "json"))["groups"] == []


def test_dedup_apply_removes_only_the_given_items(agnt5, ds):
    rows = draft(agnt5, ds)
    agnt5("datasets", "dedup", "apply", ds, "--remove-item-id", rows[0]["id"])
    assert [r["id"] for r in draft(agnt5, ds)] == [rows[1]["id"], rows[2]["id"]]
    assert data(agnt5("datasets", "publish", ds, "--format", "json"))["n_items"] == 2


def test_dedup_apply_errors_write_nothing(agnt5, ds):
    rows = draft(agnt5, ds)
    before = log_head()
    for ids, message in [
        ([MISSING], f"--remove-item-id: item {MISSING} is not in the draft"),
        ([rows[2]["id"]], "has no duplicate in the draft"),
        ([rows[0]["id"], rows[1]["id"]], "would remove every copy of item"),
        ([rows[1]["id"], rows[1]["id"]], "an item id is given twice"),
    ]:
        args = [arg for item_id in ids for arg in ("--remove-item-id", item_id)]
        assert message in agnt5("datasets", "dedup", "apply", ds, *args, code=1).stderr
    assert f"dataset {MISSING} not found" in agnt5("datasets", "dedup", "apply", MISSING, code=1).stderr
    assert f"dataset {MISSING} not found" in agnt5("datasets", "dedup", "preview", MISSING, code=1).stderr
    assert log_head() == before


def test_an_upload_with_a_repeated_or_clashing_id_writes_nothing(agnt5, store):
    ds = out(agnt5("datasets", "create", "--name", "ids"))
    agnt5("datasets", "upload", ds, input='{"id": "keep", "input": 0}\n')
    head = log_head()
    repeated = agnt5("datasets", "upload", ds, input='{"id": "a", "input": 1}\n{"id": "a", "input": 2}\n', code=1)
    assert "item 2: id 'a' appears twice" in repeated.stderr
    many = "\n".join(json.dumps({"id": f"x{n}", "input": n}) for n in range(600)) + '\n{"id": "keep", "input": 1}\n'
    clash = agnt5("datasets", "upload", ds, input=many, code=1)
    assert "item id keep is already in the draft" in clash.stderr
    assert log_head() == head
    assert data(agnt5("datasets", "show", ds, "--format", "json"))["draft_items"] == 1
