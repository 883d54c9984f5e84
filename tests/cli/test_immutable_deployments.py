"""Deployments are immutable snapshots of the code (issue 10): editing the files changes nothing until a new
deployment; ``--editable`` runs the live files and records their digest at each run's start; archive; show."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agnt5_evals.adapters import bundles
from agnt5_evals.adapters.bootstrap import build
from agnt5_evals.domain.model import BundleChunk
from tests.cli.conftest import Agnt5, data, log_head, out

PROJECT = """
from agnt5_evals import component
from helpers import VERDICT


@component("grader", type="function")
def grader(input):
    return {"verdict": VERDICT, "n": input["n"]}
"""


def project(root: Path, verdict: str = "good") -> Path:
    """A two-module project: the component imports the verdict from a helper module."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "app.py").write_text(PROJECT)
    (root / "helpers.py").write_text(f"VERDICT = {verdict!r}\n")
    return root


def experiment(agnt5: Agnt5, deployment: str) -> str:
    ds = out(agnt5("datasets", "create", "--name", "numbers"))
    agnt5("datasets", "upload", ds, input="\n".join(json.dumps({"input": {"n": n}}) for n in range(4)))
    version = out(agnt5("datasets", "publish", ds))
    scorer = json.dumps({"name": "contains", "config": {"pattern": '"good"'}})
    return out(
        agnt5(
            "experiments", "create", "--name", "e", "--dataset-id", ds, "--dataset-version-id", version,
            "--target-type", "component", "--deployment-id", deployment, "--component-name", "grader",
            "--component-type", "function", "--builtin-scorer", scorer, "--config", '{"passed_threshold": 1}',
        )
    )  # fmt: skip


def run(agnt5: Agnt5, experiment_id: str) -> dict[str, object]:
    result = agnt5("experiments", "run", experiment_id, "--wait", "--timeout", "2m", "--format", "json", code=None)
    assert result.exit_code in (0, 2), result.stderr
    summary: dict[str, object] = data(result)
    return summary


def test_a_snapshot_runs_the_code_it_was_created_with(agnt5: Agnt5, tmp_path: Path) -> None:
    root = project(tmp_path / "proj")
    created = data(agnt5("deployments", "create", "--name", "d", "--module", "app", "--path", str(root),
                         "--format", "json"))  # fmt: skip
    assert not created["editable"] and created["bundle_digest"].startswith("sha256:") and created["bundle_files"] == 2
    exp = experiment(agnt5, created["id"])
    first = run(agnt5, exp)
    (root / "helpers.py").write_text("VERDICT = 'bad'\n")  # edit the project: the deployment must not notice
    second = run(agnt5, exp)
    assert first["pass_rate"] == second["pass_rate"] == 1.0
    assert first["code_digest"] == second["code_digest"] == created["bundle_digest"]
    assert first["editable"] is False
    compared = data(agnt5("experiments", "runs", "compare", str(first["id"]), str(second["id"]), "--format", "json"))
    assert compared["warnings"] == []
    shown = data(agnt5("deployments", "show", created["id"], "--format", "json"))
    assert sorted((f["path"], f["size"]) for f in shown["files"]) == [
        ("app.py", len(PROJECT.encode())), ("helpers.py", len("VERDICT = 'good'\n")),
    ]  # fmt: skip
    table = agnt5("experiments", "runs", "show", str(second["id"])).stdout
    assert created["bundle_digest"] in table and "snapshot" in table


@pytest.mark.local_only  # an editable deployment runs this machine's live files
def test_an_editable_deployment_runs_the_live_files_and_compare_warns(agnt5: Agnt5, tmp_path: Path) -> None:
    root = project(tmp_path / "proj")
    created = data(agnt5("deployments", "create", "--name", "d", "--module", "app", "--path", str(root),
                         "--editable", "--format", "json"))  # fmt: skip
    assert created["editable"] and created["bundle_digest"] == ""
    exp = experiment(agnt5, created["id"])
    first = run(agnt5, exp)
    (root / "helpers.py").write_text("VERDICT = 'bad'\n")
    second = run(agnt5, exp)
    assert (first["pass_rate"], second["pass_rate"]) == (1.0, 0.0)
    assert first["editable"] is True and first["code_digest"] != second["code_digest"]
    assert second["code_digest"] == bundles.live_digest(str(root), [], [])  # the files as the second run found them
    table = agnt5("experiments", "runs", "compare", str(first["id"]), str(second["id"]))
    assert "warning:" in table.stderr and "ran different code" in table.stderr
    compared = data(agnt5("experiments", "runs", "compare", str(first["id"]), str(second["id"]), "--format", "json"))
    assert len(compared["warnings"]) == 1 and str(second["code_digest"]) in compared["warnings"][0]
    shown = agnt5("deployments", "show", created["id"]).stdout
    assert "editable: runs the live files" in shown


def test_what_a_snapshot_leaves_out(agnt5: Agnt5, tmp_path: Path) -> None:
    root = project(tmp_path / "proj")
    for junk in (".git/config", ".venv/lib/x.py", "env/pyvenv.cfg", "env/lib/y.py", "__pycache__/app.cpython.pyc",
                 "node_modules/m/index.js", ".mypy_cache/a", ".pytest_cache/b", ".ruff_cache/c", "pkg/z.pyc",
                 "data/big.csv", "data/keep.json", "notes/todo.txt"):  # fmt: skip
        (root / junk).parent.mkdir(parents=True, exist_ok=True)
        (root / junk).write_text("x")
    os.symlink(root / "helpers.py", root / "alias.py")  # a link to a file inside: stored as that file
    created = data(agnt5("deployments", "create", "--name", "d", "--module", "app", "--path", str(root),
                         "--exclude", "*.csv", "--exclude", "notes", "--format", "json"))  # fmt: skip
    files = {f["path"] for f in data(agnt5("deployments", "show", created["id"], "--format", "json"))["files"]}
    assert files == {"app.py", "helpers.py", "alias.py", "data/keep.json"}
    assert created["exclude_globs"] == ["*.csv", "notes"]
    only = data(agnt5("deployments", "create", "--name", "d2", "--module", "app", "--path", str(root),
                      "--include", "*.py", "--format", "json"))  # fmt: skip
    assert only["bundle_files"] == 3


def test_git_ignored_files_are_left_out(agnt5: Agnt5, tmp_path: Path) -> None:
    root = project(tmp_path / "repo")
    assert os.system(f"git init -q {root}") == 0
    (root / ".gitignore").write_text("secrets.env\nbuild/\n")
    (root / "secrets.env").write_text("TOKEN=1")
    (root / "build").mkdir()
    (root / "build" / "out.bin").write_text("x")
    created = data(agnt5("deployments", "create", "--name", "d", "--module", "app", "--path", str(root),
                         "--format", "json"))  # fmt: skip
    files = {f["path"] for f in data(agnt5("deployments", "show", created["id"], "--format", "json"))["files"]}
    assert files == {"app.py", "helpers.py", ".gitignore"}


def test_a_failing_create_writes_nothing(agnt5: Agnt5, tmp_path: Path) -> None:
    root = project(tmp_path / "proj")
    (root / "weights.bin").write_bytes(os.urandom(300_000))
    agnt5("datasets", "create", "--name", "anything")  # the store exists; its head is the baseline
    head = log_head()
    too_big = agnt5("deployments", "create", "--name", "d", "--module", "app", "--path", str(root),
                    "--max-size", "200K", code=1)  # fmt: skip
    assert "--max-size" in too_big.stderr and "weights.bin (300,000 B)" in too_big.stderr
    bad_size = agnt5("deployments", "create", "--name", "d", "--module", "app", "--path", str(root),
                     "--max-size", "lots", code=1)  # fmt: skip
    assert "--max-size" in bad_size.stderr
    (root / "escape.py").symlink_to(tmp_path / "elsewhere.py")
    (tmp_path / "elsewhere.py").write_text("x = 1\n")
    link = agnt5("deployments", "create", "--name", "d", "--module", "app", "--path", str(root), code=1)
    assert "escape.py is a symbolic link" in link.stderr and "--path" in link.stderr
    (root / "escape.py").unlink()
    no_module = agnt5("deployments", "create", "--name", "d", "--module", "missing", "--path", str(root), code=1)
    assert "--module" in no_module.stderr
    bad_name = agnt5("deployments", "create", "--name", " ", "--module", "app", "--path", str(root), code=1)
    assert "--name" in bad_name.stderr
    assert log_head() == head


def test_staged_chunks_of_a_killed_create_are_reused(agnt5: Agnt5, tmp_path: Path) -> None:
    """A create killed after staging its chunks left no deployment; the next create of the same code reuses them."""
    root = project(tmp_path / "proj")
    (root / "noise.bin").write_bytes(os.urandom(900_000))  # incompressible: three chunks
    snap = bundles.snapshot(str(root), [], [])
    with build() as svc:
        staged = svc.app.stage_bundle(snap.digest, bundles.encode(snap)[:2])  # killed before the third chunk
    assert len(staged) == 2 and data(agnt5("deployments", "list", "--all", "--format", "json")) == []
    head = log_head()
    created = data(agnt5("deployments", "create", "--name", "d", "--module", "app", "--path", str(root),
                         "--format", "json"))  # fmt: skip
    assert created["bundle_digest"] == snap.digest
    assert log_head() == head + 3  # the third chunk, the bundle and the deployment: nothing staged twice
    again = data(agnt5("deployments", "create", "--name", "d2", "--module", "app", "--path", str(root),
                       "--format", "json"))  # fmt: skip
    assert again["bundle_digest"] == snap.digest and log_head() == head + 4  # the same code: only a deployment
    with build() as svc:
        chunks = [svc.app.get(BundleChunk, BundleChunk.create_id(snap.digest, n, p), "chunk") for n, p in
                  enumerate(bundles.encode(snap))]  # fmt: skip
    assert all(len(c.data) <= 512 * 1024 for c in chunks)


def test_workers_extract_a_bundle_once_and_re_extract_a_damaged_one(agnt5: Agnt5, tmp_path: Path) -> None:
    root = project(tmp_path / "proj")
    created = data(agnt5("deployments", "create", "--name", "d", "--module", "app", "--path", str(root),
                         "--format", "json"))  # fmt: skip
    home = Path(os.environ["AGNT5_HOME"])
    cached = bundles.cache_dir(home, created["bundle_digest"])
    import shutil

    shutil.rmtree(cached)  # another machine's worker: no cache yet
    exp = experiment(agnt5, created["id"])
    assert run(agnt5, exp)["pass_rate"] == 1.0 and (cached / "helpers.py").exists()
    (cached / "helpers.py").write_text("VERDICT = 'tampered'\n")  # a damaged cache is detected by its digest
    assert run(agnt5, exp)["pass_rate"] == 1.0
    assert (cached / "helpers.py").read_text() == "VERDICT = 'good'\n"


def test_an_archived_deployment_starts_no_runs(agnt5: Agnt5, tmp_path: Path) -> None:
    root = project(tmp_path / "proj")
    deployment = out(agnt5("deployments", "create", "--name", "old", "--module", "app", "--path", str(root)))
    exp = experiment(agnt5, deployment)
    first = run(agnt5, exp)
    agnt5("deployments", "archive", deployment)
    refused = agnt5("experiments", "run", exp, code=1)
    assert f"deployment {deployment} (old) is archived" in refused.stderr
    assert data(agnt5("deployments", "list", "--format", "json")) == []
    listed = data(agnt5("deployments", "list", "--all", "--format", "json"))
    assert [(d["id"], d["archived"]) for d in listed] == [(deployment, True)]
    shown = data(agnt5("experiments", "runs", "show", str(first["id"]), "--format", "json"))
    assert shown["deployment_id"] == deployment
    again = agnt5("deployments", "archive", deployment, code=1)
    assert "already archived" in again.stderr


@pytest.mark.parametrize("flag", ["--editable", "--include", "--max-size"])
def test_snapshot_options_are_refused_for_http(agnt5: Agnt5, flag: str) -> None:
    args = [flag] if flag == "--editable" else [flag, "1M"]
    refused = agnt5("deployments", "create", "--name", "h", "--url", "http://127.0.0.1:9", *args, code=1)
    assert flag in refused.stderr
