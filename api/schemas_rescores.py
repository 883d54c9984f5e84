"""Response bodies of rescores, annotations and scorer-vs-human agreement (see ``api.schemas``)."""

from __future__ import annotations

from pydantic import Field

from agnt5_evals.api.schemas import AT, DATASET_ITEM, ITEM, LATER, RUN, Id, Json, Schema, Timestamp, examples

RESCORE = "aba2054b-87a1-4f87-825e-45e34bd03731"
RESCORE_SCORER = {"scorer_key": "contains", "scorer_name": "contains", "n": 20, "mean_score": 0.5, "n_passed": 10,
                  "n_errored": 0}  # fmt: skip
RESCORE_FLIP = {"run_item_id": ITEM, "position": 0, "previous_status": "passed", "status": "failed",
                "dataset_item_id": DATASET_ITEM}  # fmt: skip
CONFUSION = {"both_pass": 0, "scorer_pass_human_fail": 0, "scorer_fail_human_pass": 1, "both_fail": 1}
SCORER_AGREEMENT = {"scorer": "json_valid", "n": 2, "agreement": 0.5, "agreement_ci95": [0.0945, 0.9055],
                    "kappa": 0.0, "confusion": CONFUSION, "mean_abs_score_diff": 1.0}  # fmt: skip


class RescoreScorer(Schema):
    """One scorer's aggregates over the scores a rescore recorded."""

    model_config = examples(RESCORE_SCORER)
    scorer_key: str
    scorer_name: str
    n: int
    mean_score: float
    n_passed: int
    n_errored: int


class RescoreFlip(Schema):
    """A rescored run item whose status changed."""

    model_config = examples(RESCORE_FLIP)
    run_item_id: Id
    position: int
    previous_status: str
    status: str
    dataset_item_id: str


class Rescore(Schema):
    """A rescore of a completed run: status, counts, per-scorer aggregates and the items whose status changed."""

    model_config = examples({
        "id": RESCORE, "run_id": RUN, "status": "completed", "reason": "stricter", "replace_latest": True,
        "total_items": 20, "done_items": 20, "passed_items": 10, "failed_items": 10, "errored_items": 0,
        "scorers": [RESCORE_SCORER], "newly_passing": [], "newly_failing": [RESCORE_FLIP], "failure": None,
        "created_at": AT, "finished_at": LATER,
    })  # fmt: skip
    id: Id
    run_id: Id
    status: str = Field(description="running, completed, failed or cancelled")
    reason: str
    replace_latest: bool = Field(description="its scores replace the run's current ones")
    total_items: int
    done_items: int
    passed_items: int
    failed_items: int
    errored_items: int
    scorers: list[RescoreScorer]
    newly_passing: list[RescoreFlip]
    newly_failing: list[RescoreFlip]
    failure: str | None
    created_at: Timestamp
    finished_at: Timestamp | None


class RescoreEntry(Schema):
    """A rescore as recorded, in a run's list of rescores (``chosen`` and ``replace_latest`` are 0 or 1)."""

    model_config = examples({
        "id": RESCORE, "run_id": RUN, "status": "completed", "reason": "stricter",
        "scorers": [{"type": "builtin", "name": "contains", "config": {"pattern": "Order"}, "key": "contains"}],
        "chosen": 0, "replace_latest": 1, "total": 20, "done": 20, "passed": 10, "failed": 10, "errored": 0,
        "failure": None, "created_at": AT, "finished_at": LATER,
    })  # fmt: skip
    id: Id
    run_id: Id
    status: str
    reason: str
    scorers: list[dict[str, Json]]
    chosen: int = Field(description="1 when it rescored chosen items only")
    replace_latest: int
    total: int
    done: int
    passed: int
    failed: int
    errored: int
    failure: str | None
    created_at: Timestamp
    finished_at: Timestamp | None


class Annotation(Schema):
    """A human label on a run item (kept apart from scores): a label, a score from 0 to 1, or both."""

    model_config = examples({"id": "1adfc244-f301-4361-9600-774c845d1e25", "run_id": RUN, "run_item_id": ITEM,
                             "name": "human", "label": "pass", "score": 1.0, "explanation": "correct answer",
                             "metadata": {"reviewer": "ana"}, "created_at": LATER})  # fmt: skip
    id: Id
    run_id: Id
    run_item_id: Id
    name: str
    label: str | None
    score: float | None
    explanation: str | None
    metadata: dict[str, Json]
    created_at: Timestamp


class Confusion(Schema):
    """Counts of the scorer's verdict against the human's."""

    model_config = examples(CONFUSION)
    both_pass: int
    scorer_pass_human_fail: int
    scorer_fail_human_pass: int
    both_fail: int


class ScorerAgreement(Schema):
    """How one scorer (or ``(item status)``) agrees with the human verdicts on the items that have both."""

    model_config = examples(SCORER_AGREEMENT)
    scorer: str
    n: int
    agreement: float | None
    agreement_ci95: list[float] = Field(min_length=2, max_length=2, description="95% Wilson interval [low, high]")
    kappa: float | None = Field(description="Cohen's kappa; null when chance agreement is total")
    confusion: Confusion
    mean_abs_score_diff: float | None


class Agreement(Schema):
    """Per scorer of a run: agreement with the human annotations of one name."""

    model_config = examples({"run_id": RUN, "name": "human", "annotated_items": 2, "without_verdict": 0,
                             "scorers": [SCORER_AGREEMENT]})  # fmt: skip
    run_id: Id
    name: str
    annotated_items: int
    without_verdict: int
    scorers: list[ScorerAgreement]
