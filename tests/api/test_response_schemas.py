"""Every route's real bodies, after real runs on both stores, validate against the OpenAPI schema of that route."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
import orjson
import pytest
from fastapi.testclient import TestClient

from agnt5_evals.api.main import create_app
from agnt5_evals.api.routes import annotating, audit, catalog, datasets, experiments, rescores, runs, scores
from tests.support import wait_until

FORMATS = jsonschema.Draft202012Validator.FORMAT_CHECKER
ROUTERS = (
    annotating,
    audit,
    catalog,
    datasets,
    experiments,
    rescores,
    runs,
    scores,
)  # the resources api.schemas* describe

SCORERS = """
import time
from agnt5_evals import scorer


@scorer("sleepy")
def sleepy(request):
    time.sleep(0.5)
    return {"score": 1.0}
"""


class Checked:
    """Calls routes and validates each body against the schema the OpenAPI document gives its route and status."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.doc = client.app.openapi()
        self.seen: set[tuple[str, str]] = set()

    def __call__(self, method: str, template: str, status: int = 200, final: str = "", **kwargs: Any) -> Any:
        """The body (a list of lines for JSON lines; of ``(event, data)`` for server-sent events, whose final
        event's data must match the component ``final``)."""
        path = "/api/v1" + template
        ids = {key: kwargs.pop(key) for key in list(kwargs) if "{" + key + "}" in template}
        response = self.client.request(method.upper(), path.format(**ids), **kwargs)
        assert response.status_code == status, f"{method} {template}: {response.text}"
        contents = self.doc["paths"][path][method]["responses"][str(status)]["content"]
        media = response.headers["content-type"].split(";")[0]
        content = next(c for m, c in contents.items() if m.split(";")[0] == media)  # one of the documented types
        if media == "text/event-stream":
            events = [(block.split("\n")[0].removeprefix("event: "), orjson.loads(block.split("\n")[1][6:]))
                      for block in response.text.split("\n\n") if block.startswith("event: ")]  # fmt: skip
            schema = {"$ref": f"#/components/schemas/{final}", "components": self.doc["components"]}
            jsonschema.Draft202012Validator(schema, format_checker=FORMATS).validate(events[-1][1])
            self.seen.add((method, path))
            return events
        if media == "application/x-ndjson":
            bodies = [orjson.loads(line) for line in response.text.splitlines()]
        elif not media.endswith("json"):  # a file (an export as CSV, XML, Markdown or HTML)
            bodies = [response.text]
        else:
            bodies = [response.json()]
        schema = {**content["schema"], "components": self.doc["components"]}
        validator = jsonschema.Draft202012Validator(schema, format_checker=FORMATS)  # uuid ids are checked
        for body in bodies:
            validator.validate(body)
        self.seen.add((method, path))
        return bodies if media == "application/x-ndjson" else bodies[0]

    def until_done(self, template: str, **ids: str) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            body: dict[str, Any] = self("get", template, **ids)
            return None if body["status"] == "running" else body

        return wait_until(done, message=f"{template} {ids} still running")


@pytest.fixture
def call(services, tmp_path, monkeypatch) -> Iterator[Checked]:
    monkeypatch.setenv("AGNT5_MODULE_ROOTS", str(tmp_path))  # the server imports modules from here only
    with TestClient(create_app()) as client:
        yield Checked(client)


def _datasets(call: Checked) -> str:
    ds = call("post", "/datasets", 201, json={"name": "schemas", "metadata": {"team": "support"}})["id"]
    assert call("get", "/datasets")[-1]["id"] == ds
    call("get", "/datasets/{dataset_id}", dataset_id=ds)
    items = [{"input": {"q": 1}, "expected_output": "a", "split": "test", "metadata": {"m": 1}},
             {"input": {"q": 1}, "expected_output": "a"}, {"input": 2}]  # fmt: skip
    call("post", "/datasets/{dataset_id}/items", 201, dataset_id=ds, json={"items": items})
    preview = call("get", "/datasets/{dataset_id}/dedup", dataset_id=ds, params={"include_preview": True})
    assert preview["groups"][0]["input"] == {"q": 1}
    assert "input" not in call("get", "/datasets/{dataset_id}/dedup", dataset_id=ds)["groups"][0]
    assert call("post", "/datasets/{dataset_id}/dedup", dataset_id=ds, json={})["removed"] == 1
    csv = {"csv": 'q,meta\n3,{}\n4,"[1]"\n', "input_column": "q", "metadata_column": "meta"}
    assert call("post", "/datasets/{dataset_id}/csv", 201, dataset_id=ds, json=csv)["errors"][0]["line"] == 3
    v1 = call("post", "/datasets/{dataset_id}/publish", 201, dataset_id=ds, json={})["id"]
    call("post", "/datasets/{dataset_id}/items", 201, dataset_id=ds, json={"items": [{"input": 5}]})
    v2 = call("post", "/datasets/{dataset_id}/publish", 201, dataset_id=ds, json={"description": "more"})["id"]
    assert len(call("get", "/datasets/{dataset_id}/versions", dataset_id=ds)) == 2
    assert len(call("get", "/datasets/{dataset_id}/versions/{version_id}/items", dataset_id=ds, version_id=v1)) == 3
    assert len(call("get", "/datasets/{dataset_id}/versions/{version_id}/export", dataset_id=ds, version_id=v2)) == 4
    compare = "/datasets/{dataset_id}/versions/{base_version_id}/compare/{compare_version_id}"
    assert len(call("get", compare, dataset_id=ds, base_version_id=v1, compare_version_id=v2)["added"]) == 1
    restore = "/datasets/{dataset_id}/versions/{version_id}/restore-draft"
    assert call("post", restore, dataset_id=ds, version_id=v1)["restored_version_id"] == v1
    examples = "/datasets/{dataset_id}/examples"
    assert call("get", examples, dataset_id=ds)[0]["events"] == 0
    assert call("get", examples, dataset_id=ds, params={"version": 1, "include_payload": True})[0]["events"] == []
    assert len(call("get", examples, dataset_id=ds, params={"draft": True})) == 3
    added = call("post", examples, 201, dataset_id=ds, json={"input": {"q": 1}, "split": "test"})
    assert added["input"] == {"q": 1} and added["id"] == added["item_id"] and "expected_output" in added
    assert len(call("get", examples, dataset_id=ds, params={"draft": True})) == 4
    removed = call("delete", "/datasets/{dataset_id}/items/{item_id}", dataset_id=ds, item_id=added["id"])
    assert removed["item_id"] == added["id"] and removed["draft_items"] == 3
    return str(ds)


def _catalog(call: Checked, agent_dir) -> str:
    (agent_dir / "schema_scorers.py").write_text(SCORERS)
    assert len(call("get", "/deployments")) == 2
    made = call("post", "/deployments", 201, json={"name": "s", "module": "schema_scorers", "path": str(agent_dir)})
    assert {f["path"] for f in call("get", "/deployments/{deployment_id}", deployment_id=made["id"])["files"]} >= {
        "schema_scorers.py"
    }
    spare = call("post", "/deployments", 201, json={"name": "spare", "module": "schema_scorers",
                                                    "path": str(agent_dir), "editable": True})  # fmt: skip
    assert call("post", "/deployments/{deployment_id}/archive", deployment_id=spare["id"])["archived"] is True
    assert len(call("get", "/deployments", params={"all": True})) == 4
    scorer = {"name": "sleepy", "deployment_id": made["id"], "component_name": "sleepy"}
    sleepy = call("post", "/scorers", 201, json=scorer)["id"]
    assert call("get", "/scorers")["custom"][0]["id"] == sleepy
    body = {"name": "p", "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi {{ name }}"}]}
    prompt = call("post", "/prompts", 201, json=body)["id"]
    call("post", "/prompts/{prompt_id}/versions", 201, prompt_id=prompt,
         json={**body, "output_format": "json", "response_schema": {"type": "object"}})  # fmt: skip
    assert len(call("get", "/prompts")) == 1
    assert len(call("get", "/prompts/{prompt_id}/versions", prompt_id=prompt)) == 2
    return str(sleepy)


def _experiment(call: Checked, world, component: str, repetitions: int | None = None, **config: Any) -> str:
    body = {
        "name": component, "dataset_id": str(world["dataset"]), "dataset_version_id": str(world["version"]),
        "deployment_id": str(world["good"]), "component_name": component,
        "component_type": "agent" if component == "support_agent" else "function", "config": config,
        "scorers": ["json_valid", {"name": "tool_called", "config": {"tool": "search_orders"}}],
        **({"repetitions": repetitions} if repetitions else {}),
    }  # fmt: skip
    return str(call("post", "/experiments", 201, json=body)["id"])


def _runs(call: Checked, world) -> tuple[str, str]:
    exp = _experiment(call, world, "support_agent", repetitions=2)
    runs = "/experiments/{experiment_id}/runs"
    base = call("post", runs, 202, experiment_id=exp, json={"name": "base"})["id"]
    cand = call("post", runs, 202, experiment_id=exp, json={"name": "cand", "deployment_id": str(world["bad"])})["id"]
    assert call.until_done("/runs/{run_id}", run_id=base)["repetitions"]["k"] == 2
    call.until_done("/runs/{run_id}", run_id=cand)
    assert call("get", "/experiments", params={"dataset_id": str(world["dataset"])})[0]["id"] == exp
    assert call("get", "/experiments/{experiment_id}", experiment_id=exp)["versions"] == 1
    patched = call(
        "patch", "/experiments/{experiment_id}", experiment_id=exp, json={"config": {"passed_threshold": 0.5}}
    )
    assert patched["definition"]["config"]["passed_threshold"] == 0.5
    assert len(call("get", "/experiments/{experiment_id}/versions", experiment_id=exp)) == 1
    assert len(call("get", runs, experiment_id=exp)) == 2
    call("get", runs + "/{run_id}", experiment_id=exp, run_id=cand)
    assert len(call("get", "/runs/{run_id}/items", run_id=cand)) == 20
    assert len(call("get", "/runs/{run_id}/failures", run_id=cand)) == 10
    assert call("get", "/runs/{run_id}/gate", run_id=cand)["exit_code"] == 2
    events = call("get", "/runs/{run_id}/progress", run_id=cand, final="RunSummary")
    assert events[-1][0] == "summary" and events[-1][1]["id"] == cand and events[-1][1]["status"] == "completed"
    exported = call("get", "/runs/{run_id}/export", run_id=cand)
    assert len(exported) == 20 and {row["run_id"] for row in exported} == {cand}
    rows = call("get", "/runs/{run_id}/export", run_id=cand, params={"layout": "scores"})
    assert len(rows) == 20 * len(events[-1][1]["scorers"])
    assert len(call("get", "/runs/{run_id}/export", run_id=cand, params={"format": "json"})) == 20
    assert call("get", "/runs/{run_id}/export", run_id=cand, params={"format": "junit"}).startswith("<?xml")
    compare = call("get", "/runs/{base_run_id}/compare/{compare_run_id}", base_run_id=base, compare_run_id=cand)
    assert len(compare["newly_failing"]) == 10 and compare["verdict"] == "significant regression"
    flaky = call("get", "/experiments/{experiment_id}/flaky", experiment_id=exp)
    assert [r["id"] for r in flaky["runs"]] == [base, cand] and len(flaky["items"]) == len(
        {f["dataset_item_id"] for f in compare["newly_failing"]}
    )
    scores = call("get", "/scores", params={"run_id": cand})
    evidence = call("get", "/scores/{score_id}/evidence", score_id=scores[0]["id"])
    assert {"scorer_input", "scorer_output", "evidence"} <= evidence.keys()
    only = call("get", "/scores/{score_id}/evidence", score_id=scores[0]["id"], params={"include": "evidence"})
    assert "scorer_input" not in only
    return base, cand


def _annotations_and_rescores(call: Checked, cand: str, sleepy: str) -> None:
    item = call("get", "/runs/{run_id}/items", run_id=cand)[0]["id"]
    call("post", "/eval/runs/{run_id}/items/{item_id}/annotations", 201, run_id=cand, item_id=item,
         json={"name": "h", "score": 1.0, "explanation": "fine", "metadata": {"by": "ana"}})  # fmt: skip
    exp = call("get", "/runs/{run_id}", run_id=cand)["experiment_id"]
    call("post", "/experiments/{experiment_id}/runs/{run_id}/items/{item_id}/annotations", 201, experiment_id=exp,
         run_id=cand, item_id=item, json={"name": "h", "label": "fail"})  # fmt: skip
    assert len(call("get", "/runs/{run_id}/annotations", run_id=cand)) == 2
    assert call("get", "/runs/{run_id}/agreement", run_id=cand)["scorers"]
    body = {"reason": "stricter", "replace_latest": True, "idempotency_key": "k",
            "scorers": [{"name": "contains", "config": {"pattern": "{not"}}]}  # fmt: skip
    rescore = call("post", "/eval/runs/{run_id}/rescore", 202, run_id=cand, json=body)["id"]
    done = call.until_done("/rescores/{rescore_id}", rescore_id=rescore)
    followed = call("get", "/rescores/{rescore_id}/progress", rescore_id=rescore, final="Rescore")
    assert followed == [("summary", done)]
    assert done["scorers"] and done["newly_failing"]  # the passing items do not contain "{not"
    again = "/experiments/{experiment_id}/runs/{run_id}/rescore"
    assert call("post", again, 202, experiment_id=exp, run_id=cand, json=body)["id"] == rescore
    assert call("get", "/runs/{run_id}/rescores", run_id=cand)[0]["replace_latest"] == 1
    slow = call("post", "/eval/runs/{run_id}/rescore", 202, run_id=cand, json={"scorer_version_ids": [sleepy]})["id"]
    assert call("post", "/rescores/{rescore_id}/cancel", rescore_id=slow)["status"] == "cancelled"
    call.until_done("/rescores/{rescore_id}", rescore_id=slow)


def test_every_route_serves_bodies_its_schema_describes(call, world, agent_dir):
    ds = _datasets(call)
    sleepy = _catalog(call, agent_dir)
    _, cand = _runs(call, world)
    _annotations_and_rescores(call, cand, sleepy)
    imported = call("post", "/datasets/{dataset_id}/runs", 201, dataset_id=ds, json={"run_id": cand})
    assert imported["added"] == 20
    regression = call("post", "/runs/{run_id}/regression-dataset", 201, run_id=cand, json={"name": "regressions"})
    assert regression["items"] == 10 and regression["run"] is None and regression["source_run_id"] == cand
    slow = _experiment(call, world, "slow", concurrency=1)  # 10 items of 0.5 s, one at a time; no repetitions
    run = call("post", "/experiments/{experiment_id}/runs", 202, experiment_id=slow, json={})["id"]
    cancelled = call("post", "/runs/{run_id}/cancel", run_id=run)
    assert cancelled["status"] == "cancelled" and "repetitions" not in cancelled
    again = call("post", "/experiments/{experiment_id}/runs", 202, experiment_id=slow, json={})["id"]
    under = call("post", "/experiments/{experiment_id}/runs/{run_id}/cancel", experiment_id=slow, run_id=again)
    assert under["status"] == "cancelled" and under["experiment_id"] == slow
    log = call("get", "/audit/events", params={"run_id": run, "limit": 5})
    assert log[0]["topic"].endswith("Run.Started") and log[0]["originator_id"] == run
    assert call("get", "/audit/verify", params={"run_id": cand})["ok"] is True
    again = call("post", "/runs/{run_id}/rerun", 202, run_id=cand, json={"name": "again"})
    assert again["source_run_id"] == cand and again["name"] == "again"
    assert call("post", "/datasets/{dataset_id}/archive", dataset_id=ds)["archived"] is True
    assert call("post", "/datasets/{dataset_id}/unarchive", dataset_id=ds)["archived"] is False
    assert call("post", "/experiments/{experiment_id}/archive", experiment_id=slow)["archived"] is True
    assert call("post", "/experiments/{experiment_id}/unarchive", experiment_id=slow)["archived"] is False
    described = {(m.lower(), "/api/v1" + r.path) for module in ROUTERS for r in module.router.routes for m in r.methods}
    assert described - call.seen == set(), "routes whose bodies this test does not check"
