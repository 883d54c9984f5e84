"""``agnt5 scorers test``: score local cases with no experiment; custom scorers run in a child process."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any
from uuid import UUID

from agnt5_evals.adapters.bootstrap import build
from agnt5_evals.adapters.bundles import code_path
from agnt5_evals.domain import jsonio
from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.model import Deployment
from agnt5_evals.domain.scoring import ScorerInput
from agnt5_evals.worker.scoring import ScorerRuntime

CASE_KEYS = {"output", "expected_output", "expected", "input", "events", "metadata"}


def parse_cases(text: str) -> list[dict[str, Any]]:
    """One ``{output, expected_output?, input?, events?}`` object per line; a bad line is named."""
    cases = []
    for number, line in jsonio.jsonl_lines(text):
        case = jsonio.loads(line, "cases", number)  # strict: a duplicate key or NaN is refused, never changed
        if not isinstance(case, dict) or "output" not in case:
            raise Invalid(f"line {number}: a case is an object with an 'output' field", field="cases")
        unknown = sorted(set(case) - CASE_KEYS)
        if unknown:
            raise Invalid(f"line {number}: unknown field {unknown[0]!r}", field="cases")
        if not isinstance(case.get("events", []), list):
            raise Invalid(f"line {number}: field 'events' must be an array", field="cases")
        cases.append(case)
    return cases


def _input(case: dict[str, Any], config: dict[str, Any], index: int) -> ScorerInput:
    return ScorerInput(
        output=case["output"],
        expected_output=case.get("expected_output", case.get("expected")),
        input=case.get("input"),
        config=config,
        events=case.get("events") or [],
        metadata={"run_id": "scorers-test", "run_item_id": f"case-{index}", **(case.get("metadata") or {})},
    )


def score_cases(runtime: ScorerRuntime, spec: dict[str, Any], cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    results = []
    for index, case in enumerate(cases):
        outcome = runtime.score(spec, _input(case, spec.get("config") or {}, index))
        results.append({**outcome.as_output(), "errored": outcome.errored})
    return results


def run_in_child(spec: dict[str, Any], cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Score with a custom scorer component in a worker process (never inside the caller's process)."""
    command = [sys.executable, "-P", "-m", "agnt5_evals.services.scorer_cases"]
    payload = json.dumps({"spec": spec, "cases": cases})
    proc = subprocess.run(command, input=payload, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["scorer worker failed"])[-1]
        raise Invalid(f"the scorer could not run: {last}", field="scorer_id")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def _main() -> None:
    job = json.load(sys.stdin)
    with build() as services:
        runtime = ScorerRuntime(
            lambda i: services.app.get(Deployment, UUID(str(i)), "deployment"),
            lambda deployment: code_path(services.app, services.settings.home, deployment),
        )
        try:
            for result in score_cases(runtime, job["spec"], job["cases"]):
                print(json.dumps(result, sort_keys=False))
        finally:
            runtime.close()


if __name__ == "__main__":
    _main()
