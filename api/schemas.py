"""Response bodies of runs: summaries, the gate, items, scores and their evidence; the shared base.

Every model is strict and closed (``Schema``): FastAPI validates a handler's dict against it and serializes the
result, so a field of the wrong type or a field the model does not name is a server error in the tests, never a
silently coerced or dropped value. Routes whose bodies leave some keys out (``repetitions`` of a run summary
without repetitions, the parts of score evidence) declare ``response_model_exclude_unset`` so absent stays absent.
The other bodies: ``api.schemas_datasets``, ``api.schemas_catalog`` (deployments, scorers, prompts, experiments,
experiment versions), ``api.schemas_rescores`` (rescores, annotations, agreement) and ``api.schemas_compare``
(comparisons).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

Id = Annotated[str, Field(json_schema_extra={"format": "uuid"})]
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Json = Any  # any JSON value, as the component or the dataset gave it
Absent = SkipJsonSchema[None]  # a key some bodies leave out (never null): routes use response_model_exclude_unset


class Schema(BaseModel):
    """A response body: strict and closed, so the JSON a route serves is exactly what its handler returned."""

    model_config = ConfigDict(strict=True, extra="forbid")


def examples(*values: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(values)})


class JsonLines(JSONResponse):
    """One JSON object per line (``application/x-ndjson``); the route's ``response_model`` describes a line.

    A JSON response class only to the OpenAPI document (so it shows the line's schema): handlers build the body.
    """

    media_type = "application/x-ndjson"


RUN, EXPERIMENT = "baae3829-7c8b-430e-8e41-26c9e833e790", "5a6bb48a-bfff-4ea3-a64f-7e64318361a9"
ITEM, DATASET_ITEM = "32456893-aca1-59ce-b787-e1fb07de2785", "735fc1b8-fd1e-4fb7-9aa9-b5ef54c96013"
AT, LATER = "2026-11-27T13:40:53.076406+00:00", "2026-11-27T13:40:53.356305+00:00"

GATE_RULE = {"rule": "min_pass_rate", "observed": 0.5, "threshold": 1.0, "passed": False,
             "message": "pass rate 50.0% < passed_threshold 1", "scorer": None, "baseline_run_id": None,
             "upper_bound": None, "alpha": None, "paired_items": None}  # fmt: skip
BASELINE_RULE = {"rule": "max_regression", "observed": -0.031, "threshold": -0.02, "passed": True,
                 "message": "pass-rate delta vs baseline 0d6f6c4e-5f8e-4a57-a8b4-3f1f2b8a9c11: -3.1 pts (95% upper "
                 "bound -0.4 pts) >= -2.0 pts allowed", "scorer": None,
                 "baseline_run_id": "0d6f6c4e-5f8e-4a57-a8b4-3f1f2b8a9c11", "upper_bound": -0.004, "alpha": 0.05,
                 "paired_items": 320}  # fmt: skip
GATE = {"passed_threshold": 1.0, "max_failed_items": None, "passed": False, "rules": [GATE_RULE]}
SCORER_AGGREGATE = {"scorer": "json_valid", "mean_score": 0.5, "passed": 10, "failed": 10, "errored": 0,
                    "pass_rate": 0.5}  # fmt: skip
LATENCY = {"p50": 0.0425, "p95": 0.0937, "max": 0.107}
REPETITIONS = {"k": 2, "pass_at_k": 0.5, "pass_hat_k": 0.5, "flaky_items": []}
SPEC = {
    "dataset_id": "d1a3c5e7-0b2d-4f6a-8c9e-1b3d5f7a9c2e", "dataset_version_id": "a5519df7-4581-5af8-aef6-2d52d7a6ee3b",
    "target": {"type": "component", "deployment_id": "51fd81f2-8ab9-486d-89ed-10cf6b7da161",
               "component_name": "support_agent", "component_type": "agent"},
    "scorers": [{"type": "builtin", "name": "json_valid", "config": {}, "key": "json_valid"}],
    "config": {"passed_threshold": 1, "concurrency": 4}, "config_overrides": {"concurrency": 4},
}  # fmt: skip
REPLACED_BY = {"rescore_id": "aba2054b-87a1-4f87-825e-45e34bd03731", "status": "completed", "done_items": 20,
               "total_items": 20}  # fmt: skip
RUN_SUMMARY = {
    "id": RUN, "name": "candidate", "experiment_id": EXPERIMENT,
    "experiment_version_id": "ba334120-ea4f-55d7-9132-9b4e9b897888",
    "dataset_version_id": "a5519df7-4581-5af8-aef6-2d52d7a6ee3b",
    "deployment_id": "51fd81f2-8ab9-486d-89ed-10cf6b7da161",
    "code_digest": "sha256:9f2c4e1b5d0a7c3e8f6b2a1d4c7e0f3a6b9c2d5e8f1a4b7c0d3e6f9a2b5c8d1e", "editable": False,
    "build": None, "source_run_id": None, "status": "completed", "reason": None,
    "total_items": 20, "done_items": 20, "passed_items": 10, "failed_items": 10, "errored_items": 0,
    "pass_rate": 0.5, "gate": GATE, "passed": False, "total_run_items": 20, "spec": SPEC,
    "scorers": [SCORER_AGGREGATE], "created_at": AT, "finished_at": LATER,
    "latency_ms": LATENCY, "total_tokens": 0, "repetitions": REPETITIONS, "replaced_by": [REPLACED_BY],
}  # fmt: skip


class GateRule(Schema):
    """One rule of a run's gate with its numbers: what it observed, its threshold, and whether it passed."""

    model_config = examples(GATE_RULE, BASELINE_RULE)
    rule: str = Field(
        description="min_pass_rate (the run's pass rate), max_failed_items, scorer_min_pass_rate, "
        "scorer_min_mean_score (gate_config.scorers) or max_regression (gate_config.baseline)"
    )
    observed: float | None = Field(
        description="the run's value: pass rate, items not passed, a scorer's pass rate or mean "
        "score, or the mean paired pass difference vs the baseline (candidate minus baseline); null: none"
    )
    threshold: float | None = Field(
        description="the rule's limit (max_regression: -max_regression, which the upper bound must reach)"
    )
    passed: bool | None = Field(description="null: the rule was skipped (last_passed found no baseline run)")
    message: str = Field(description="the rule in words, with its numbers")
    scorer: str | None = Field(description="the scorer's key (scorer rules)")
    baseline_run_id: Id | None = Field(description="the baseline run compared with (max_regression)")
    upper_bound: float | None = Field(
        description="the one-sided 1 - alpha paired bootstrap upper bound of the pass difference (max_regression)"
    )
    alpha: float | None = Field(description="the significance level (max_regression)")
    paired_items: int | None = Field(description="items paired with the baseline's (max_regression)")


class RunGate(Schema):
    """The CI gate of a run: its threshold, and whether the run passed it (a completed run only)."""

    model_config = examples(GATE)
    passed_threshold: float = Field(
        description="the minimum pass rate: the stricter of config.passed_threshold and "
        "gate_config.min_pass_rate (1 when neither is set)"
    )
    max_failed_items: int | None = Field(
        description="gate_config.max_failed_items: the most items that may fail or error; null: no limit"
    )
    passed: bool | None = Field(
        description="the gate's verdict once the run completed; null (no verdict) while it runs, and for a failed "
        "or cancelled run, whose gate was never judged"
    )
    rules: list[GateRule] = Field(description="every rule of the gate, in order; failing ones say why")


class ScorerAggregate(Schema):
    """One scorer's aggregates over a run's current scores."""

    model_config = examples(SCORER_AGGREGATE)
    scorer: str = Field(description="the scorer's key in the experiment")
    mean_score: float | None = Field(description="null before the scorer's first score")
    passed: int
    failed: int
    errored: int
    pass_rate: float


class Latency(Schema):
    """Item latency percentiles in milliseconds (linear interpolation between closest ranks)."""

    model_config = examples(LATENCY)
    p50: float
    p95: float
    max: float


class Repetitions(Schema):
    """Over the k repetitions of each dataset item: pass@k, pass^k and the items whose repetitions disagree."""

    model_config = examples(REPETITIONS)
    k: int
    pass_at_k: float
    pass_hat_k: float
    flaky_items: list[str] = Field(description="dataset item ids")


class ReplacedBy(Schema):
    """A replacing rescore whose scores the run now holds."""

    model_config = examples(REPLACED_BY)
    rescore_id: Id
    status: str
    done_items: int
    total_items: int


SUMMARY_ONLY = ("scorers", "latency_ms", "total_tokens", "repetitions", "replaced_by")


class RunListRow(Schema):
    """A run in a list: status, counts, pass rate and gate, named as in its summary (``RunSummary``)."""

    model_config = examples({key: value for key, value in RUN_SUMMARY.items() if key not in SUMMARY_ONLY})
    id: Id
    name: str
    experiment_id: Id
    experiment_version_id: Id
    dataset_version_id: Id
    deployment_id: Id | None
    code_digest: str | None = Field(
        description="the digest of the code the run ran (a snapshot's, or an editable "
        "deployment's live files at the run's start); null: none known"
    )
    editable: bool | None = Field(description="whether the deployment ran its live files; null: not a module")
    build: str | None = Field(description="the build an HTTP deployment reported; null: none")
    source_run_id: Id | None = Field(None, description="the run this one re-runs (`runs rerun`); null: none")
    status: str = Field(description="running, completed, failed or cancelled")
    reason: str | None = Field(description="why the run failed or was cancelled")
    total_items: int
    done_items: int
    passed_items: int
    failed_items: int
    errored_items: int
    pass_rate: float = Field(description="passed / done while running, else passed / total")
    gate: RunGate
    passed: bool | None = Field(
        description="whether the run passed (the control plane's field): gate.passed once it completed, false "
        "for a failed or cancelled run, null while it runs"
    )
    total_run_items: int = Field(
        description="run items: dataset items x repetitions (the control plane's name of total_items)"
    )
    spec: dict[str, Json] = Field(
        description="what the run runs, as recorded when it started: the experiment version's definition "
        "(dataset_id, target, scorers) with this run's config (config; config_overrides: the keys it overrode)"
    )
    created_at: Timestamp
    finished_at: Timestamp | None


class RunSummary(RunListRow):
    """A run: status, counts, pass rate, gate, per-scorer aggregates, latency, tokens and repetition statistics."""

    model_config = examples(RUN_SUMMARY)
    scorers: list[ScorerAggregate]
    latency_ms: Latency
    total_tokens: int
    repetitions: Repetitions | Absent = Field(None, description="only when the run repeats items (k > 1)")
    replaced_by: list[ReplacedBy]


class GateVerdict(Schema):
    """The CI verdict of a run, with the exit code ``agnt5 runs gate`` would give (0 pass, 2 fail, 4 running)."""

    model_config = examples({"status": "completed", "pass_rate": 0.5, "passed_threshold": 1.0,
                             "max_failed_items": None, "not_passed_items": 10, "passed": False,
                             "exit_code": 2, "rules": [GATE_RULE]})  # fmt: skip
    status: str
    pass_rate: float
    passed_threshold: float
    max_failed_items: int | None
    not_passed_items: int = Field(description="items that failed or errored")
    passed: bool
    exit_code: int
    rules: list[GateRule] = Field(description="every rule of the gate with its numbers (as in a run summary)")


SCORE = {
    "id": "7aee10c0-1aac-5f79-bd72-7825d7769e22", "run_id": RUN, "run_item_id": ITEM, "position": 0,
    "scorer_index": 0, "scorer_key": "json_valid", "scorer_name": "json_valid", "config": {}, "score": 0.0,
    "passed": False, "errored": False, "label": "invalid", "explanation": "output is not valid JSON",
    "metadata": {}, "evidence": {"output_text": "{not json"}, "created_at": LATER, "rescore_id": None,
    "is_current": True,
}  # fmt: skip
EVENTS = [{"event_type": "run.completed", "event_id": f"{ITEM}:1", "correlation_id": ITEM,
           "parent_correlation_id": None, "timestamp_ns": 1795786853350528436, "data": {"attempts": 1},
           "name": None}]  # fmt: skip
RUN_ITEM = {
    "id": ITEM, "run_id": RUN, "position": 0, "dataset_item_id": DATASET_ITEM, "repetition": 0, "status": "failed",
    "output": "{not json", "error": None, "events": EVENTS, "started_at": LATER, "duration_ms": 0.017,
    "attempts": 1, "tokens": 0, "scores": [SCORE],
}  # fmt: skip


class Score(Schema):
    """One scorer's verdict on one run item."""

    model_config = examples(SCORE)
    id: Id
    run_id: Id
    run_item_id: Id
    position: int = Field(description="the run item's position in the run")
    scorer_index: int
    scorer_key: str
    scorer_name: str
    config: dict[str, Json]
    score: float
    passed: bool
    errored: bool
    label: str | None
    explanation: str | None
    metadata: dict[str, Json]
    evidence: dict[str, Json]
    created_at: Timestamp
    rescore_id: Id | None = Field(description="the rescore that recorded it; null: the run's own")
    is_current: bool = Field(description="false once a replacing rescore superseded it")


FAILING = {"scorer": "json_valid", "score": 0.0, "label": "invalid", "explanation": "Expecting value: line 1",
           "errored": False}  # fmt: skip


class RunItem(Schema):
    """One execution of one dataset item (one repetition), with its trace events and current scores."""

    model_config = examples(RUN_ITEM)
    id: Id
    run_id: Id
    position: int
    dataset_item_id: str
    repetition: int
    status: str = Field(description="passed, failed or errored")
    output: Json
    error: str | None = Field(description="the target's error (then the item is errored and has no output)")
    events: list[dict[str, Json]]
    started_at: Timestamp
    duration_ms: float
    attempts: int
    tokens: int
    scores: list[Score]


class FailingScore(Schema):
    """A scorer that did not pass an item: its score, label and explanation (``errored``: the scorer raised)."""

    model_config = examples(FAILING)
    scorer: str
    score: float
    label: str | None
    explanation: str | None
    errored: bool


class Failure(RunItem):
    """A failed or errored run item, with its dataset item's input and expected output, its scores, and the
    scorers that failed it."""

    model_config = examples({**RUN_ITEM, "input": {"question": "Capital of Brazil?"}, "expected_output": "Brasilia",
                             "failing_scorers": [FAILING], "stack": None})  # fmt: skip
    input: Json = Field(description="the dataset item's input")
    expected_output: Json
    failing_scorers: list[FailingScore] = Field(description="the scores that did not pass, in scorer order")
    stack: str | None = Field(None, description="the stack trace of a component that raised (capped, scrubbed)")


class RegressionDataset(Schema):
    """What ``POST /runs/{id}/regression-dataset`` made: a published dataset of the run's failed (or chosen) items,
    an experiment over it, and its first run when one was started."""

    model_config = examples({"dataset_id": "e7d1c3a0-4b5f-4c2e-9a6d-2f1b8c7e5d40",
                             "dataset_version_id": "0f4b2a8e-6c1d-5e3f-8a7b-9c0d1e2f3a4b",
                             "experiment_id": "c2a9f7e1-3b4d-4e5f-a6b7-c8d9e0f1a2b3", "items": 10,
                             "source_run_id": RUN, "run": None})  # fmt: skip
    dataset_id: Id
    dataset_version_id: Id
    experiment_id: Id
    items: int
    source_run_id: Id
    run: RunSummary | None


class ExportRow(Schema):
    """One line of ``GET /runs/{id}/export``: one (run item, scorer) of the run (``reports export``)."""

    model_config = examples({"experiment_name": "support-agent-quality", "run_id": RUN, "run_name": "candidate",
                             "index": 0, "run_item_id": ITEM, "item_id": DATASET_ITEM, "repetition": 0,
                             "status": "failed", "passed": False, "error": "", "duration_ms": 42.5,
                             "scorer": "json_valid", "score": 0.0, "scorer_passed": False, "scorer_errored": False,
                             "label": "invalid", "explanation": "output is not valid JSON",
                             "metadata": {}})  # fmt: skip
    experiment_name: str
    run_id: Id
    run_name: str
    index: int
    run_item_id: Id
    item_id: str
    repetition: int
    status: str
    passed: bool
    error: str
    duration_ms: float | None
    scorer: str
    score: float | str
    scorer_passed: bool | str
    scorer_errored: bool | str
    label: str
    explanation: str
    metadata: dict[str, Json] | str


class ExportItem(Schema):
    """One record of ``GET /runs/{id}/export`` (``layout=items``, JSON formats): one run item and repetition, then
    ``<scorer>.score``, ``<scorer>.passed``, ``<scorer>.label`` and ``<scorer>.explanation`` for each scorer."""

    model_config = ConfigDict(
        strict=True, extra="allow",
        json_schema_extra={"examples": [{
            "experiment_name": "support-agent-quality", "run_id": RUN, "run_name": "candidate", "index": 0,
            "run_item_id": ITEM, "dataset_item_id": DATASET_ITEM, "repetition": 0, "input": {"order_id": 1},
            "expected_output": None, "output": "{not json", "status": "failed", "error": None, "duration_ms": 42.5,
            "tokens": 0, "json_valid.score": 0.0, "json_valid.passed": False, "json_valid.label": "invalid",
            "json_valid.explanation": "output is not valid JSON",
        }]},
    )  # fmt: skip
    experiment_name: str
    run_id: Id
    run_name: str
    index: int
    run_item_id: Id
    dataset_item_id: str
    repetition: int
    input: Json
    expected_output: Json
    output: Json
    status: str
    error: str | None
    duration_ms: float | None
    tokens: int | None


SCORER_INPUT = {"input": {"order_id": 1}, "output": "{not json", "expected_output": 1, "events": EVENTS,
                "config": {}}  # fmt: skip
SCORER_OUTPUT = {"score": 0.0, "passed": False, "label": "invalid", "explanation": "output is not valid JSON",
                 "metadata": {}, "errored": False}  # fmt: skip


class ScorerInput(Schema):
    """What the scorer saw."""

    model_config = examples(SCORER_INPUT)
    input: Json
    output: Json
    expected_output: Json
    events: list[dict[str, Json]]
    config: dict[str, Json]


class ScorerOutput(Schema):
    """What the scorer returned."""

    model_config = examples(SCORER_OUTPUT)
    score: float
    passed: bool
    label: str | None
    explanation: str | None
    metadata: dict[str, Json]
    errored: bool


class ScoreEvidence(Schema):
    """A score with the parts asked for in ``include``: what the scorer saw, what it returned, its evidence."""

    model_config = examples({"id": SCORE["id"], "run_id": RUN, "run_item_id": ITEM, "scorer_key": "json_valid",
                             "scorer_name": "json_valid", "scorer_input": SCORER_INPUT,
                             "scorer_output": SCORER_OUTPUT, "evidence": {"output_text": "{not json"}})  # fmt: skip
    id: Id
    run_id: Id
    run_item_id: Id
    scorer_key: str
    scorer_name: str
    scorer_input: ScorerInput | Absent = Field(None, description="with include=scorer_input")
    scorer_output: ScorerOutput | Absent = Field(None, description="with include=scorer_output")
    evidence: dict[str, Json] | Absent = Field(None, description="with include=evidence")
