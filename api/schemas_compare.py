"""Response bodies of run comparisons (see ``api.schemas``)."""

from __future__ import annotations

from pydantic import Field

from agnt5_evals.api.schemas import DATASET_ITEM, FAILING, ITEM, RUN, FailingScore, Id, Json, Schema, examples

SIDE = {"total": 20, "passed": 10, "pass_rate": 0.5}
MOVEMENT = {"scorer": "json_valid", "base_mean": 1.0, "compare_mean": 0.5, "delta": -0.5, "paired_items": 20,
            "mean_delta_ci95": [-0.7, -0.3], "base_pass_rate": 1.0, "compare_pass_rate": 0.5, "pass_rate_delta": -0.5,
            "pass_rate_ci95": [-0.7, -0.3]}  # fmt: skip
FLIP = {"dataset_item_id": DATASET_ITEM, "repetition": 0, "base_run_item_id": "8a928862-f5c5-5d84-a001-2b347c60687b",
        "compare_run_item_id": ITEM, "base_status": "passed", "compare_status": "failed",
        "input": {"question": "Capital of Brazil?"}, "expected_output": "Brasilia", "base_output": "Brasilia",
        "compare_output": "Rio de Janeiro", "base_error": None, "compare_error": None,
        "failing_scorers": [FAILING]}  # fmt: skip
DIFFERENCE = {"field": "scorers.contains", "base": {"type": "builtin", "name": "contains", "config": {"value": "a"}},
              "compare": {"type": "builtin", "name": "contains", "config": {"value": "b"}}, "strict": True,
              "message": "scorer 'contains' is configured differently in the two runs"}  # fmt: skip


class ComparisonSide(Schema):
    """One run's side of a comparison (all its items, paired or not)."""

    model_config = examples(SIDE)
    total: int
    passed: int
    pass_rate: float


class ScorerMovement(Schema):
    """A scorer's mean score in each run (null where the run has no score of it) and the change; over the items
    both runs scored, the paired mean-score and pass-rate deltas with 95% paired bootstrap intervals."""

    model_config = examples(MOVEMENT)
    scorer: str
    base_mean: float | None
    compare_mean: float | None
    delta: float | None
    paired_items: int
    mean_delta_ci95: list[float] | None = Field(description="[low, high]; null without paired scores")
    base_pass_rate: float | None
    compare_pass_rate: float | None
    pass_rate_delta: float | None
    pass_rate_ci95: list[float] | None


class Flip(Schema):
    """A dataset item (one repetition) whose pass/fail differs between the two runs, with its input, expected
    output, both outputs, and the scorers that failed it on its failing side."""

    model_config = examples(FLIP)
    dataset_item_id: str
    repetition: int
    base_run_item_id: Id
    compare_run_item_id: Id
    base_status: str
    compare_status: str
    input: Json
    expected_output: Json
    base_output: Json
    compare_output: Json
    base_error: str | None
    compare_error: str | None
    failing_scorers: list[FailingScore]


class Difference(Schema):
    """How the two runs differ in what they measured; ``strict``: ``strict=true`` refuses the comparison."""

    model_config = examples(DIFFERENCE)
    field: str = Field(description="dataset_version_id, scorers, scorers.KEY, code_digest or build")
    base: Json
    compare: Json
    strict: bool
    message: str


class Comparison(Schema):
    """Two runs paired by dataset item and repetition: pass-rate and score movement with 95% paired bootstrap
    intervals, the exact McNemar test of the flips and its verdict, comparability, and the flips."""

    model_config = examples({
        "base_run_id": "45401047-c2c7-4a9c-b34d-02af234b0fbe", "compare_run_id": RUN, "same_dataset_version": True,
        "paired_items": 20, "base": {"total": 20, "passed": 20, "pass_rate": 1.0}, "compare": SIDE,
        "pass_rate_delta": -0.5, "paired_pass_rate_delta": -0.5, "pass_rate_ci95": [-0.7, -0.3],
        "mcnemar_p_value": 0.00195, "verdict": "significant regression", "scorers": [MOVEMENT],
        "newly_failing": [FLIP], "newly_passing": [], "newly_failing_count": 10, "newly_passing_count": 0,
        "only_in_base": [], "only_in_compare": [], "comparability": [], "warnings": [],
    })  # fmt: skip
    base_run_id: Id
    compare_run_id: Id
    same_dataset_version: bool
    paired_items: int
    base: ComparisonSide
    compare: ComparisonSide
    pass_rate_delta: float = Field(description="compare pass rate minus base pass rate, over all items of each")
    paired_pass_rate_delta: float | None = Field(description="the same over the paired items (null: none)")
    pass_rate_ci95: list[float] | None = Field(description="95% paired bootstrap interval of paired_pass_rate_delta")
    mcnemar_p_value: float = Field(description="exact two-sided McNemar test of the flips (1: no flips)")
    verdict: str = Field(description="within noise, significant regression or significant improvement (alpha 0.05)")
    scorers: list[ScorerMovement]
    newly_failing: list[Flip] = Field(description="at most `limit`; only those `scorer` failed when given")
    newly_passing: list[Flip]
    newly_failing_count: int = Field(description="how many flips of the kind there are (before `limit`)")
    newly_passing_count: int
    only_in_base: list[str] = Field(description="dataset item ids")
    only_in_compare: list[str] = Field(description="dataset item ids")
    comparability: list[Difference]
    warnings: list[str] = Field(description="the differences `strict` refuses, as sentences")


HISTORY = {"run_id": RUN, "run_name": "nightly", "created_at": "2026-11-27T10:00:00+00:00", "verdict": "failed"}


class VerdictInRun(Schema):
    """An item's verdict in one run: passed, failed, errored, mixed (its repetitions disagree), or null (absent)."""

    model_config = examples(HISTORY)
    run_id: Id
    run_name: str
    created_at: str
    verdict: str | None


class FlakyItem(Schema):
    """A dataset item whose verdict changed across the runs, with its history (oldest run first)."""

    model_config = examples({"dataset_item_id": DATASET_ITEM, "changes": 2, "history": [HISTORY],
                             "input": {"question": "Capital of Brazil?"}, "expected_output": "Brasilia"})  # fmt: skip
    dataset_item_id: str
    changes: int = Field(description="how often the verdict changed from one run to the next")
    history: list[VerdictInRun]
    input: Json
    expected_output: Json


class RunRef(Schema):
    """A run the report looked at."""

    id: Id
    name: str
    created_at: str


class FlakyReport(Schema):
    """The items whose verdict changed across an experiment's last N completed runs, most changes first."""

    experiment_id: Id
    runs: list[RunRef] = Field(description="the completed runs looked at, oldest first")
    items: list[FlakyItem]
