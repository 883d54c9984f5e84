"""The distribution installs exactly one import package, agnt5_evals, holding every product folder."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOT_PRODUCT = {"tests", "scripts", "build", "docs", "dist"}


def _product_packages() -> set[str]:
    """Every folder of the tree with an __init__.py, as its agnt5_evals.* name."""
    found = {"agnt5_evals"}
    for init in ROOT.rglob("__init__.py"):
        parts = init.relative_to(ROOT).parent.parts
        if parts and parts[0] not in NOT_PRODUCT and not parts[0].startswith("."):
            found.add(".".join(("agnt5_evals", *parts)))
    return found


def test_pyproject_lists_every_product_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == {"agnt5_evals": "."}
    assert set(config["packages"]) == _product_packages()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    tree = out / "tree"  # a copy: an in-tree build would leave build/ and *.egg-info in the repository
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(".*", "build", "dist", "*.egg-info", "__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(tree)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return next(out.glob("agnt5_evals-*.whl"))


@pytest.mark.slow
def test_the_wheel_installs_only_agnt5_evals(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        top_level = next(n for n in names if n.endswith(".dist-info/top_level.txt"))
        assert zf.read(top_level).decode().split() == ["agnt5_evals"]
        entry_points = zf.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert "agnt5 = agnt5_evals.cli.main:main" in entry_points
    roots = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert roots == {"agnt5_evals"}
    for module in (
        "__init__.py",
        "domain/model.py",
        "cli/main.py",
        "api/main.py",
        "worker/worker.py",
        "services/operations.py",
        "adapters/bootstrap.py",
        "adapters/templates/run_report.html.j2",  # package data: the HTML export's template
        "sdk/__init__.py",
    ):
        assert f"agnt5_evals/{module}" in names
    assert not any(n.startswith("agnt5_evals/tests/") for n in names)
