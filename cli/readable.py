"""Items as people read them on a terminal: what was asked, expected and answered, and why the scorers failed it.

Every value is shown as a one-line excerpt (``domain.reports.excerpt``) with control characters escaped; the full
values are in ``--format json``. Used by ``runs compare`` (flips) and ``reports failures``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import typer

from agnt5_evals.cli.common import printable
from agnt5_evals.domain.reports import excerpt

DEFAULT_LIMIT = 20  # items listed in a table when --limit is not given (json: all)


def _line(label: str, value: Any, width: int) -> None:
    typer.echo(f"    {label:<9} {printable(excerpt(value, width))}")


def failing_lines(scorers: Iterable[dict[str, Any]], width: int = 100) -> None:
    """One line per scorer that did not pass: ``scorer = score (label): explanation``."""
    for s in scorers:
        head = f"{s['scorer']} = {s['score']:.2f}" + (" (scorer errored)" if s.get("errored") else "")
        head += f" ({s['label']})" if s.get("label") else ""
        explanation = f": {s['explanation']}" if s.get("explanation") else ""
        typer.echo(f"    {'failed':<9} {printable(excerpt(head + explanation, width))}")


def item_block(title: str, item: dict[str, Any], outputs: list[tuple[str, Any]], width: int = 100) -> None:
    """An item: its title line, then input, expected output, the outputs (or errors) and the failing scorers."""
    typer.echo(f"  {printable(title)}")
    _line("input", item.get("input"), width)
    _line("expected", item.get("expected_output"), width)
    for label, value in outputs:
        _line(label, value, width)
    failing_lines(item.get("failing_scorers", []), width)


def more(shown: int, total: int, what: str) -> None:
    if total > shown:
        typer.echo(f"  ... and {total - shown} more {what} (--limit N, or --format json for all)")
