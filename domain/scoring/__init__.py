"""Built-in scorers (pure functions), their registry, and scorer specs."""

from agnt5_evals.domain.scoring import judges as _judges  # noqa: F401  (registers the judge scorers)
from agnt5_evals.domain.scoring import output as _output  # noqa: F401  (registers the output scorers)
from agnt5_evals.domain.scoring import structured as _structured  # noqa: F401  (registers structured_assertions)
from agnt5_evals.domain.scoring import trace as _trace  # noqa: F401  (registers the trace scorers)
from agnt5_evals.domain.scoring import trace_plans as _trace_plans  # noqa: F401  (registers the plan trace scorers)
from agnt5_evals.domain.scoring import trace_tools as _trace_tools  # noqa: F401  (registers the other trace scorers)
from agnt5_evals.domain.scoring.base import BUILTINS, ScoreResult, ScorerInput
from agnt5_evals.domain.scoring.specs import parse_scorer_spec, run_scorer, validate_scorer_spec, with_keys

__all__ = [
    "BUILTINS",
    "ScoreResult",
    "ScorerInput",
    "parse_scorer_spec",
    "run_scorer",
    "validate_scorer_spec",
    "with_keys",
]
