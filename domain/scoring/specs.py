"""Scorer specs: built-in scorers given as ``NAME`` or JSON, checked before anything is written."""

from __future__ import annotations

from typing import Any

from agnt5_evals.domain import jsonio
from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.scoring.base import BUILTINS, ScoreResult, ScorerInput


def _known() -> str:
    return ", ".join(sorted(BUILTINS))


def parse_scorer_spec(raw: str, field: str = "scorers") -> dict[str, Any]:
    """Parse a built-in scorer given by name or as ``{"name": ..., "config": {...}}`` and validate it.

    The JSON form is read strictly (``domain.jsonio``): a duplicate key, NaN or an integer beyond 64 bits in a
    config is refused with its path (``scorers[0].config.threshold``), never silently changed.
    """
    text = raw.strip()
    if text.startswith("{"):
        value = jsonio.loads(text, field)
        if not isinstance(value, dict) or not isinstance(value.get("name"), str):
            raise Invalid(f'JSON form needs a "name" string: {raw!r}', field=f"{field}.name")
        config = value.get("config", {})
        if config is None:
            config = {}
        if not isinstance(config, dict):
            raise Invalid(f"{value['name']}: config must be a JSON object", field=f"{field}.config")
        extra = sorted(set(value) - {"name", "config"})
        if extra:
            raise Invalid(f"{value['name']}: unknown key {extra[0]!r}", field=f"{field}.{extra[0]}")
        spec = {"type": "builtin", "name": value["name"], "config": config, "bare": False}
    else:
        spec = {"type": "builtin", "name": text, "config": {}, "bare": True}
    validate_scorer_spec(spec, field)
    spec.pop("bare")
    return spec


def validate_scorer_spec(spec: dict[str, Any], field: str = "scorers") -> None:
    """Raise Invalid naming the scorer and the field when a built-in spec cannot work."""
    name = spec.get("name")
    scorer = BUILTINS.get(str(name))
    if scorer is None:
        raise Invalid(f"unknown scorer {name!r} (built-ins: {_known()})", field=f"{field}.name")
    if scorer.requires_config and spec.get("bare"):
        missing = scorer.check_config({}) if scorer.check_config is not None else None
        raise Invalid(
            f"{name} needs config ({missing or 'see agnt5 scorers list'}); pass it as JSON, "
            f'for example \'{{"name":"{name}","config":{{...}}}}\'',
            field=f"{field}.config",
        )
    if scorer.check_config is not None:
        problem = scorer.check_config(spec.get("config") or {})
        if problem:
            raise Invalid(problem, field=f"{field}.config")


def run_scorer(spec: dict[str, Any], inp: ScorerInput) -> ScoreResult:
    """Score one item; a scorer that raises becomes an errored score, never a crash of the run."""
    scorer = BUILTINS.get(str(spec.get("name")))
    if scorer is None:
        return ScoreResult(0.0, False, "scorer_not_found", f"unknown scorer {spec.get('name')!r}", errored=True)
    try:
        result = scorer.fn(inp)
    except Exception as exc:  # a scorer bug must not stop the run
        return ScoreResult(0.0, False, "error", f"{type(exc).__name__}: {exc}", errored=True)
    score = min(1.0, max(0.0, float(result.score)))
    if score != result.score:
        return ScoreResult(
            score, result.passed, result.label, result.explanation, result.metadata, result.errored, result.evidence
        )
    return result


def with_keys(specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give each scorer a display key: its name, or ``name#n`` when a name is attached twice."""
    names = [str(s.get("name") or s.get("scorer_id")) for s in specs]
    seen: dict[str, int] = {}
    keyed = []
    for spec, name in zip(specs, names, strict=True):
        seen[name] = seen.get(name, 0) + 1
        key = name if names.count(name) == 1 else f"{name}#{seen[name]}"
        keyed.append({**spec, "key": key})
    return keyed
