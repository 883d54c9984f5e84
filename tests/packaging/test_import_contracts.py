"""scripts/check fails on an import that breaks a layer contract (pyproject [tool.importlinter])."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_copy(tmp_path: Path, module: str, line: str) -> subprocess.CompletedProcess[str]:
    """Run the contracts over a copy of the package in which ``module`` gained ``line``."""
    package = tmp_path / "src" / "agnt5_evals"  # a folder by the package's name, first on the path
    shutil.copytree(ROOT, package, ignore=shutil.ignore_patterns(".*", "build", "tests", "docs", "__pycache__"))
    target = package / module
    target.write_text(target.read_text() + f"\n{line}\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(package / "pyproject.toml"), "--no-cache"],
        cwd=package,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_contracts_hold_on_the_tree(tmp_path: Path) -> None:
    done = _lint_copy(tmp_path, "domain/errors.py", "# no change")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "broken" in done.stdout and " 0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("domain/gates.py", "from agnt5_evals.cli import common  # noqa", "domain.gates -> agnt5_evals.cli"),
        ("projections/views.py", "from agnt5_evals.worker import locks  # noqa", "agnt5_evals.projections.views"),
        ("api/main.py", "from agnt5_evals.cli import common  # noqa", "agnt5_evals.api.main -> agnt5_evals.cli"),
        ("domain/reports.py", "import httpx  # noqa", "agnt5_evals.domain.reports -> httpx"),
    ],
)
def test_an_import_against_the_layers_breaks_a_contract(tmp_path: Path, module: str, line: str, broken: str) -> None:
    done = _lint_copy(tmp_path, module, line)
    assert done.returncode != 0
    assert broken in done.stdout
