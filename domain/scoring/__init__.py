"""Built-in scorers (pure functions), their registry, and scorer specs."""

from domain.scoring import judges as _judges  # noqa: F401  (registers the judge scorers)
from domain.scoring import output as _output  # noqa: F401  (registers the output scorers)
from domain.scoring import trace as _trace  # noqa: F401  (registers the trace scorers)
from domain.scoring.base import BUILTINS, ScoreResult, ScorerInput
from domain.scoring.specs import parse_scorer_spec, run_scorer, validate_scorer_spec, with_keys

__all__ = [
    "BUILTINS",
    "ScoreResult",
    "ScorerInput",
    "parse_scorer_spec",
    "run_scorer",
    "validate_scorer_spec",
    "with_keys",
]
