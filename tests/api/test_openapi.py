"""The OpenAPI document describes every route's response with a named, exemplified schema."""

from __future__ import annotations

import inspect
from typing import Any, get_args

import jsonschema
import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from agnt5_evals.api import schemas, schemas_audit, schemas_catalog, schemas_datasets, schemas_rescores
from agnt5_evals.api.main import create_app
from agnt5_evals.api.routes import annotating, audit, catalog, datasets, experiments, rescores, runs, scores

MAIN = [
    "RunSummary", "RunItem", "Score", "ScoreEvidence", "Comparison", "Failure", "Dataset", "DatasetVersion",
    "Experiment", "Deployment", "Rescore", "Annotation", "Prompt", "PromptVersion", "Agreement", "GateVerdict",
]  # fmt: skip
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
MODELS = [
    model
    for module in (schemas, schemas_audit, schemas_catalog, schemas_datasets, schemas_rescores)
    for model in vars(module).values()
    if inspect.isclass(model) and issubclass(model, schemas.Schema) and model is not schemas.Schema
]


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return create_app().openapi()


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def _named(schema: dict[str, Any]) -> str:
    """The component a response schema names: ``{$ref}`` or ``{type: array, items: {$ref}}``."""
    target = schema["items"] if schema.get("type") == "array" else schema
    return str(target["$ref"]).removeprefix("#/components/schemas/")


def test_every_route_documents_a_named_response_schema(doc):
    operations = _operations(doc)
    assert len(operations) > 40
    for method, path, op in operations:
        success = {code: r for code, r in op["responses"].items() if code.startswith("2")}
        assert len(success) == 1, f"{method} {path}"
        ((code, response),) = success.items()
        if path.endswith("/runs/{run_id}/export"):  # a file in one of six formats: the test below
            continue
        ((media, content),) = response["content"].items()
        if media == "text/event-stream":  # server-sent events: an example of the stream (its model: the test below)
            assert "event: summary" in content["example"], f"{method} {path}"
            continue
        name = _named(content["schema"])
        component = doc["components"]["schemas"][name]
        assert component["properties"], f"{method} {path}: {name} describes nothing"
        if method == "post" and code == "201":
            assert media == "application/json"


def test_the_bodies_of_the_described_resources_are_closed_models():
    for module in ROUTERS:
        for route in module.router.routes:
            assert isinstance(route, APIRoute)
            model = (get_args(route.response_model) or (route.response_model,))[0]  # list[X] or X
            assert issubclass(model, schemas.Schema), f"{route.path}: {model} is not an api.schemas model"


def test_the_export_documents_one_item_per_line(doc):
    response = doc["paths"]["/api/v1/datasets/{dataset_id}/versions/{version_id}/export"]["get"]["responses"]["200"]
    assert response["content"] == {"application/x-ndjson": {"schema": {"$ref": "#/components/schemas/ExportedItem"}}}


def test_the_run_export_documents_each_format_with_its_media_type(doc):
    for path in ("/api/v1/runs/{run_id}/export", "/api/v1/projects/{project_id}/runs/{run_id}/export"):
        content = doc["paths"][path]["get"]["responses"]["200"]["content"]
        assert set(content) == {
            "text/csv; charset=utf-8",
            "application/x-ndjson",
            "application/json",
            "application/xml",
            "text/markdown; charset=utf-8",
            "text/html; charset=utf-8",
        }
        records = [{"$ref": "#/components/schemas/ExportItem"}, {"$ref": "#/components/schemas/ExportRow"}]
        assert content["application/x-ndjson"]["schema"] == {"anyOf": records}
        assert content["application/json"]["schema"] == {"type": "array", "items": {"anyOf": records}}
        assert content["text/html; charset=utf-8"]["schema"] == {"type": "string"}


def test_main_components_have_examples(doc):
    components = doc["components"]["schemas"]
    for name in MAIN:
        assert components[name]["examples"], name
    for model in MODELS:  # nested ones too: RunGate, ScorerAggregate, Flip, ...
        assert components[model.__name__]["examples"], model.__name__


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_each_example_validates_against_its_model_and_its_schema(doc, model: type[BaseModel]):
    examples = model.model_json_schema()["examples"]
    schema = {"$ref": f"#/components/schemas/{model.__name__}", **doc}
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    for example in examples:
        assert model.model_validate(example).model_dump(mode="json", exclude_unset=True) == example
        validator.validate(example)


def test_a_body_that_strays_from_its_model_is_refused_not_reshaped():
    """Strict and closed: a handler's wrong type or unmodelled key fails (a 500 in the tests), never reaches a client
    coerced or dropped."""
    (summary,) = schemas.RunSummary.model_json_schema()["examples"]
    for strayed in ({**summary, "pass_rate": "0.5"}, {**summary, "total_items": 20.0}, {**summary, "surprise": 1},
                    {k: v for k, v in summary.items() if k != "gate"}, {**summary, "gate": {"passed": 1}}):  # fmt: skip
        with pytest.raises(ValidationError):
            schemas.RunSummary.model_validate(strayed)
    (score,) = schemas.Score.model_json_schema()["examples"]
    with pytest.raises(ValidationError):
        schemas.Score.model_validate({**score, "passed": 0})


def test_summaries_are_the_handlers_one_line_docstrings(doc):
    routes = [r for module in ROUTERS for r in module.router.routes if isinstance(r, APIRoute)]
    assert len(routes) > 40
    for route in routes:
        docstring = inspect.getdoc(route.endpoint) or ""
        assert docstring and "\n" not in docstring, f"{route.path}: give {route.endpoint.__name__} a one-line docstring"
        for method in route.methods:
            assert doc["paths"]["/api/v1" + route.path][method.lower()]["summary"] == docstring
