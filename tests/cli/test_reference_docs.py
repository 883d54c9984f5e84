"""docs/cli.md is generated from --help and must stay true."""

from __future__ import annotations

from pathlib import Path

from agnt5_evals.cli.reference import render


def test_cli_reference_is_up_to_date():
    docs = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
    assert docs.read_text() == render(), "run scripts/gen-cli-docs"
