"""Users' projects may have packages named like our folders: we install only agnt5_evals, so nothing clashes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

AGNT5 = Path(sys.executable).parent / "agnt5"
OUR_FOLDERS = ("domain", "api", "cli", "runner", "projections")


def _cli(*args: str, cwd: Path, code: int = 0) -> str:
    done = subprocess.run([str(AGNT5), *args], cwd=cwd, capture_output=True, text=True, env=os.environ, timeout=300)
    assert done.returncode == code, f"exit {done.returncode}: {done.stdout}\n{done.stderr}"
    return done.stdout.strip()


def _user_project(root: Path) -> Path:
    """A project whose agent imports from its own domain, api, cli, runner and projections packages."""
    project = root / "userproj"
    for name in OUR_FOLDERS:
        (project / name).mkdir(parents=True)
        (project / name / "__init__.py").write_text(f"OWNER = 'user {name}'\n")
    (project / "domain" / "geo.py").write_text("CAPITALS = {'Brazil': 'Brasilia', 'France': 'Paris'}\n")
    (project / "geo_agent.py").write_text(
        textwrap.dedent(
            """
            from domain.geo import CAPITALS
            import api, cli, runner, projections

            from agnt5_evals import component


            @component("capital", type="function")
            def capital(input):
                owners = [api.OWNER, cli.OWNER, runner.OWNER, projections.OWNER]
                return {"capital": CAPITALS[input["country"]], "owners": owners}
            """
        )
    )
    return project


def _run_capital_experiment(cwd: Path, project: Path) -> dict[str, object]:
    ds = _cli("datasets", "create", "--name", "capitals", cwd=cwd)
    items = [{"input": {"country": c}, "expected_output": {"capital": k}} for c, k in [("Brazil", "Brasilia")]]
    (cwd / "items.jsonl").write_text("\n".join(json.dumps(i) for i in items))
    _cli("datasets", "upload", ds, "--file", str(cwd / "items.jsonl"), cwd=cwd)
    version = _cli("datasets", "publish", ds, cwd=cwd)
    dep = _cli("deployments", "create", "--name", "geo", "--module", "geo_agent", "--path", str(project), cwd=cwd)
    owners = {"const": ["user api", "user cli", "user runner", "user projections"]}  # the user's packages answered
    schema = {"required": ["capital", "owners"], "properties": {"capital": {"const": "Brasilia"}, "owners": owners}}
    scorer = json.dumps({"name": "json_schema", "config": {"schema": schema}})
    exp = _cli(
        "experiments", "create", "--name", "geo", "--dataset-id", ds, "--dataset-version-id", version,
        "--target-type", "component", "--deployment-id", dep, "--component-name", "capital",
        "--component-type", "function", "--builtin-scorer", scorer, cwd=cwd,
    )  # fmt: skip
    summary = json.loads(_cli("experiments", "run", exp, "--wait", "--timeout", "3m", "--format", "json", cwd=cwd))
    return {"summary": summary}


@pytest.mark.slow
def test_a_project_with_its_own_domain_api_cli_runner_and_projections_packages_runs(store: str, tmp_path: Path):
    project = _user_project(tmp_path)
    result = _run_capital_experiment(tmp_path, project)
    summary = result["summary"]
    assert isinstance(summary, dict)
    assert (summary["status"], summary["passed_items"], summary["errored_items"]) == ("completed", 1, 0)


@pytest.mark.slow
def test_a_domain_module_in_the_working_folder_changes_nothing(store: str, tmp_path: Path):
    project = _user_project(tmp_path)
    workdir = tmp_path / "work"
    workdir.mkdir()
    for name in OUR_FOLDERS:
        (workdir / f"{name}.py").write_text("raise SystemExit('a user module of the working folder was imported')\n")
    result = _run_capital_experiment(workdir, project)
    summary = result["summary"]
    assert isinstance(summary, dict)
    assert (summary["status"], summary["passed_items"]) == ("completed", 1)
