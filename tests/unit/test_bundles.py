"""Code bundles: the canonical digest, the chunked encoding, sizes, and the cache's atomic extraction."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agnt5_evals.adapters import bundles
from agnt5_evals.domain.errors import Invalid


def tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def test_the_digest_depends_on_paths_contents_and_the_executable_bit_only(tmp_path: Path) -> None:
    files = {"a.py": b"x = 1\n", "pkg/b.py": b"y = 2\n"}
    one = bundles.snapshot(str(tree(tmp_path / "one", files)), [], []).digest
    two = bundles.snapshot(str(tree(tmp_path / "two", dict(reversed(files.items())))), [], []).digest
    assert one == two  # another place, another creation order: the same code
    os.chmod(tmp_path / "two" / "a.py", 0o755)
    assert bundles.snapshot(str(tmp_path / "two"), [], []).digest != one
    (tmp_path / "one" / "a.py").write_bytes(b"x = 3\n")
    assert bundles.snapshot(str(tmp_path / "one"), [], []).digest != one


def test_chunks_round_trip_and_stay_under_512_kib(tmp_path: Path) -> None:
    root = tree(tmp_path / "p", {"big.bin": os.urandom(1_000_000), "run.sh": b"#!/bin/sh\n", "m.py": b""})
    os.chmod(root / "run.sh", 0o755)
    snap = bundles.snapshot(str(root), [], [])
    chunks = bundles.encode(snap)
    assert len(chunks) == 3 and all(len(c) <= 512 * 1024 for c in chunks)
    assert bundles.decode(chunks, snap.digest).contents == snap.contents
    assert [f["path"] for f in bundles.manifest(chunks)] == ["big.bin", "m.py", "run.sh"]
    with pytest.raises(ValueError):
        bundles.decode(chunks, "sha256:" + "0" * 64)
    out = bundles.write_tree(bundles.decode(chunks, snap.digest), tmp_path / "cache" / "x")
    assert os.access(out / "run.sh", os.X_OK) and not os.access(out / "m.py", os.X_OK)
    assert [p.name for p in out.parent.iterdir()] == ["x"]  # the temporary directory is gone
    assert bundles.live_digest(str(out), [], [], git=False) == snap.digest


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("20MiB", 20 * 2**20),
        ("500K", 500 * 1024),
        ("1048576", 2**20),
        ("1.5 MB", 3 * 2**19),
        ("2g", None),
        ("0", None),
        ("lots", None),
    ],
)
def test_sizes_are_parsed_or_refused_naming_the_field(text: str, size: int | None) -> None:
    if size is None:
        with pytest.raises(Invalid) as caught:
            bundles.parse_size(text)
        assert caught.value.field == "max_size"
    else:
        assert bundles.parse_size(text) == size


def test_globs_match_a_path_or_one_of_its_directories() -> None:
    assert bundles.matches("data/x/y.csv", ["*.csv"]) and bundles.matches("data/x/y.csv", ["data"])
    assert bundles.matches("data/x/y.csv", ["data/x"]) and not bundles.matches("dat/y.py", ["data"])


def test_the_stores_own_folder_under_the_root_is_never_snapshotted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "agent.py").write_text("x = 1\n")
    home = tmp_path / "store"
    (home / "cache").mkdir(parents=True)
    (home / "evals.sqlite").write_bytes(b"live store")
    monkeypatch.setenv("AGNT5_HOME", str(home))
    assert [f.path for f in bundles.snapshot(str(tmp_path), [], []).files] == ["agent.py"]
    monkeypatch.setenv("AGNT5_HOME", str(tmp_path / "elsewhere"))
    assert [f.path for f in bundles.snapshot(str(tmp_path), [], []).files] == ["agent.py", "store/evals.sqlite"]


def test_a_root_that_is_the_store_s_home_leaves_out_the_store_s_own_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deployment in the store's own folder (AGNT5_HOME is the project): its databases, their -wal and -shm,
    logs, locks and cache are not code and change with every write, so they are neither read nor digested."""
    tree(tmp_path, {"agent.py": b"x = 1\n", "events.db": b"log", "events.db-wal": b"w", "events.db-shm": b"s",
                    "views-agnt5v15.db": b"view", "logs/run-1.log": b"line", "locks/run-1.lock": b"",
                    "cache/bundles/x": b"y", "data/fixture.db": b"a user's file"})  # fmt: skip
    monkeypatch.setenv("AGNT5_HOME", str(tmp_path))
    before = bundles.snapshot(str(tmp_path), [], [])
    assert [f.path for f in before.files] == ["agent.py", "data/fixture.db"]
    (tmp_path / "events.db-wal").write_bytes(b"more writes")
    (tmp_path / "logs" / "run-2.log").write_bytes(b"another run")
    assert bundles.snapshot(str(tmp_path), [], []).digest == before.digest
    monkeypatch.setenv("AGNT5_HOME", str(tmp_path / "elsewhere"))
    assert "events.db" in [f.path for f in bundles.snapshot(str(tmp_path), [], []).files]
