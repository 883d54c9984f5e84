"""Code bundles: the snapshot of a deployment's tree, its canonical digest, its encoding in chunks, and the
per-digest cache that workers import from.

* **What is snapshotted**: every regular file under the root, except ``.git``, virtual environments (``.venv``,
  ``venv``, any directory holding a ``pyvenv.cfg``), caches (``__pycache__``, ``.mypy_cache``, ``.pytest_cache``,
  ``.ruff_cache``, ``node_modules``, ``*.pyc``), the store's own folder (``AGNT5_HOME``, when it lies under the
  root: a snapshot of a live store would be stale at once, and its cache would bundle itself), and, in a git work
  tree, the files git ignores. ``--include``
  keeps only the files matching one of its globs; ``--exclude`` then leaves out those matching one of its globs. A
  file matches a glob when its path relative to the root, or one of its parent directories, matches
  (``fnmatch``: ``*`` also matches ``/``). A symbolic link is stored as the file it points to when that file is
  under the root; a link to a directory, or to anything outside the root, is refused (exclude it).
* **Digest**: ``sha256`` over the sorted ``(relative path, executable bit, content sha256)`` lines: the same
  files give the same digest wherever and whenever they are snapshotted.
* **Encoding**: the manifest (one JSON line) then every file's bytes in manifest order, zlib-compressed as one
  stream, cut into pieces of 384 KiB, each base64-encoded (512 KiB): one ``BundleChunk`` event each.
* **Cache**: ``$AGNT5_HOME/cache/bundles/<digest>/``, extracted into a temporary directory, verified against the
  digest, then renamed into place (atomic: a reader sees a whole tree or none).
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import os
import re
import shutil
import stat
import subprocess
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from agnt5_evals.domain.application import EvalsApplication
from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.model import Deployment

ENCODING = "zlib-stream-v1"
PIECE_BYTES = 384 * 1024  # compressed bytes per chunk: 512 KiB once base64-encoded
DEFAULT_MAX_SIZE = 20 * 1024 * 1024
MAX_MAX_SIZE = 256 * 1024 * 1024
SKIPPED_DIRS = frozenset(
    {".git", ".hg", ".svn", ".venv", "venv", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache",
     "node_modules", ".tox", ".nox"}
)  # fmt: skip
SKIPPED_SUFFIXES = (".pyc", ".pyo")


@dataclass(frozen=True)
class BundleFile:
    path: str  # relative, with / separators
    size: int
    executable: bool
    sha256: str

    def manifest(self) -> dict[str, object]:
        return {"path": self.path, "size": self.size, "executable": self.executable, "sha256": self.sha256}


@dataclass(frozen=True)
class Snapshot:
    """A tree as it was read: its files (sorted by path) with their bytes, and its digest."""

    files: list[BundleFile]
    contents: dict[str, bytes]
    digest: str

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


def parse_size(text: str, field: str = "max_size") -> int:
    """``20MiB``, ``500K``, ``1048576``: a byte count (K, M, G suffixes are powers of 1024)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?\s*", text.lower())
    if not match:
        raise Invalid(f"{text!r} is not a size (examples: 20MiB, 500K, 1048576)", field=field)
    value = int(float(match.group(1)) * 1024 ** " kmg".index(match.group(2) or " "))
    if not 0 < value <= MAX_MAX_SIZE:
        raise Invalid(f"{text!r}: a bundle may take from 1 byte to {MAX_MAX_SIZE // 2**20} MiB", field=field)
    return value


def digest_of(files: Iterable[BundleFile]) -> str:
    """The canonical digest: sha256 over sorted ``path NUL x NUL sha256`` lines (x: 1 if executable, else 0)."""
    h = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.path):
        h.update(f"{f.path}\0{int(f.executable)}\0{f.sha256}\n".encode())
    return "sha256:" + h.hexdigest()


def matches(path: str, patterns: Iterable[str]) -> bool:
    """Whether ``path`` or one of its parent directories matches a glob."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    return any(fnmatch.fnmatchcase(prefix, pattern) for pattern in patterns for prefix in prefixes)


def _git_ignored(root: Path) -> tuple[set[str], list[str]]:
    """The files and directories (``dir/``) git ignores under ``root``; nothing when it is not in a work tree."""
    git = shutil.which("git")
    if git is None:
        return set(), []
    probe = subprocess.run([git, "-C", str(root), "rev-parse", "--is-inside-work-tree"], capture_output=True,
                           text=True, timeout=60)  # fmt: skip
    if probe.returncode != 0 or probe.stdout.strip() != "true":
        return set(), []
    listed = subprocess.run(
        [git, "-C", str(root), "ls-files", "--others", "--ignored", "--exclude-standard", "--directory", "-z"],
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    entries = [e.decode(errors="surrogateescape") for e in listed.stdout.split(b"\0") if e]
    return {e for e in entries if not e.endswith("/")}, [e for e in entries if e.endswith("/")]


def store_home() -> Path:
    """The store's folder as ``adapters.bootstrap.Settings`` finds it (``AGNT5_HOME``, default ``~/.agnt5``)."""
    return Path(os.environ.get("AGNT5_HOME") or Path.home() / ".agnt5").expanduser().resolve()


STORE_DIRS = frozenset({"cache", "locks", "logs"})  # what the embedded store keeps in its home beside its databases


def _store_file(name: str) -> bool:
    """One of the embedded store's SQLite files (``events.db``, ``views-<version>.db``, their ``-wal`` and ``-shm``)."""
    return name.startswith("events.db") or (name.startswith("views-") and ".db" in name)


def _walk(root: Path) -> Iterator[tuple[str, Path]]:
    """``(relative path, path)`` of every file under ``root``, skipping the directories never snapshotted and the
    store's own files when its home is ``root`` itself or under it: they are not code, they change with every
    write, and opening a SQLite file the process has open drops that process's locks on it (POSIX), so another
    process could reset the shared memory it has mapped (a crash with SIGBUS)."""
    home = store_home()
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        in_home = here.resolve() == home
        keep = []
        for name in sorted(dirnames):
            full = here / name
            if name in SKIPPED_DIRS or (full / "pyvenv.cfg").exists() or full.resolve() == home:
                continue
            if in_home and name in STORE_DIRS:
                continue
            if full.is_symlink():
                rel = full.relative_to(root).as_posix()
                raise Invalid(f"{rel} is a symbolic link to a directory; add {rel} to the exclude globs", field="path")
            keep.append(name)
        dirnames[:] = keep
        for name in sorted(filenames):
            if not name.endswith(SKIPPED_SUFFIXES) and not (in_home and _store_file(name)):
                full = here / name
                yield full.relative_to(root).as_posix(), full


def _read(root: Path, rel: str, full: Path) -> tuple[bytes, bool]:
    """A file's bytes and executable bit; a link must point to a file under the root."""
    if full.is_symlink():
        target = full.resolve()
        if not target.is_relative_to(root) or not target.is_file():
            raise Invalid(
                f"{rel} is a symbolic link to {os.readlink(full)}, outside {root} (or not a file); add it to the "
                "exclude globs or copy the file in",
                field="path",
            )
        full = target
    mode = full.stat().st_mode
    if not stat.S_ISREG(mode):
        raise Invalid(f"{rel} is not a regular file; add {rel} to the exclude globs", field="path")
    return full.read_bytes(), bool(mode & stat.S_IXUSR)


def select(root: Path, include: list[str], exclude: list[str], git: bool = True) -> list[tuple[str, Path]]:
    """The files a snapshot of ``root`` takes, by the rules of the module docstring, sorted by path."""
    ignored_files, ignored_dirs = _git_ignored(root) if git else (set(), [])
    chosen = []
    for rel, full in _walk(root):
        if rel in ignored_files or any(rel.startswith(d) for d in ignored_dirs):
            continue
        if include and not matches(rel, include):
            continue
        if matches(rel, exclude):
            continue
        chosen.append((rel, full))
    return sorted(chosen)


def snapshot(
    path: str, include: list[str], exclude: list[str], max_size: int = DEFAULT_MAX_SIZE, git: bool = True
) -> Snapshot:
    """Read the tree under ``path``; errors name the field (``path``, ``max_size``). ``git`` False: git's ignore
    rules do not apply (a cached tree, checked against its digest, wherever the cache is)."""
    root = Path(path).resolve()
    if not root.is_dir():
        raise Invalid(f"{path} is not a directory", field="path")
    chosen = select(root, include, exclude, git)
    sizes = {rel: full.stat().st_size for rel, full in chosen}
    total = sum(sizes.values())
    if total > max_size:
        biggest = sorted(sizes.items(), key=lambda kv: -kv[1])[:5]
        listed = ", ".join(f"{rel} ({size:,} B)" for rel, size in biggest)
        raise Invalid(
            f"the files to snapshot under {root} take {total:,} bytes, more than the cap of {max_size:,}; the biggest: "
            f"{listed} (exclude files, or raise the cap)",
            field="max_size",
        )
    files, contents = [], {}
    for rel, full in chosen:
        data, executable = _read(root, rel, full)
        files.append(BundleFile(rel, len(data), executable, hashlib.sha256(data).hexdigest()))
        contents[rel] = data
    return Snapshot(files, contents, digest_of(files))


def live_digest(path: str, include: list[str], exclude: list[str], git: bool = True) -> str | None:
    """The digest the tree under ``path`` would have as a snapshot now; None when it cannot be read."""
    try:
        return snapshot(path, include, exclude, MAX_MAX_SIZE, git).digest
    except (Invalid, OSError, subprocess.SubprocessError):
        return None


# -- encoding ---------------------------------------------------------------------------------------------


def encode(snap: Snapshot) -> list[str]:
    """The chunk payloads of a snapshot (see the module docstring)."""
    compressor = zlib.compressobj(6)
    stream = compressor.compress(orjson.dumps([f.manifest() for f in snap.files]) + b"\n")
    for f in snap.files:
        stream += compressor.compress(snap.contents[f.path])
    stream += compressor.flush()
    pieces = [stream[start : start + PIECE_BYTES] for start in range(0, len(stream), PIECE_BYTES)]
    return [base64.b64encode(piece).decode("ascii") for piece in pieces]


def manifest(chunks: Iterable[str]) -> list[dict[str, object]]:
    """The manifest alone (``deployments show``): decompresses only up to its end."""
    decompressor, head = zlib.decompressobj(), b""
    for chunk in chunks:
        head += decompressor.decompress(base64.b64decode(chunk))
        if b"\n" in head:
            break
    listed: list[dict[str, object]] = orjson.loads(head.split(b"\n", 1)[0])
    return listed


def decode(chunks: Iterable[str], digest: str) -> Snapshot:
    """A snapshot from its chunk payloads, checked against ``digest`` (a mismatch raises ``ValueError``)."""
    decompressor, stream = zlib.decompressobj(), b""
    for chunk in chunks:
        stream += decompressor.decompress(base64.b64decode(chunk))
    stream += decompressor.flush()
    head, _, body = stream.partition(b"\n")
    files, contents, offset = [], {}, 0
    for entry in orjson.loads(head):
        data = body[offset : offset + entry["size"]]
        offset += entry["size"]
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise ValueError(f"bundle {digest}: {entry['path']} does not match its sha256")
        files.append(BundleFile(entry["path"], entry["size"], entry["executable"], entry["sha256"]))
        contents[entry["path"]] = data
    snap = Snapshot(files, contents, digest_of(files))
    if snap.digest != digest or offset != len(body):
        raise ValueError(f"bundle {digest}: the stored content has digest {snap.digest}")
    return snap


def _safe_path(path: object) -> str:
    """A file path of an uploaded bundle, refused unless it is relative, normalized and stays inside the tree."""
    text = path if isinstance(path, str) else ""
    parts = text.split("/")
    if not text or text.startswith("/") or "\\" in text or any(p in ("", ".", "..") for p in parts) or "\0" in text:
        raise Invalid(f"bundle file path {path!r} is not a relative path inside the tree", field="bundle")
    return text


def decode_upload(chunks: list[str], digest: str, limit: int = MAX_MAX_SIZE) -> Snapshot:
    """A snapshot uploaded by a client (``deployments create`` through a server), checked as untrusted input: the
    encoding, every file's sha256 and path, the total size (at most ``limit`` bytes once decompressed) and the
    digest. A bad bundle is ``Invalid`` naming ``bundle``, never a server error."""
    decompressor, stream = zlib.decompressobj(), b""
    try:
        for chunk in chunks:
            stream += decompressor.decompress(base64.b64decode(chunk, validate=True), limit + 1 - len(stream))
            if len(stream) > limit or decompressor.unconsumed_tail:
                raise Invalid(f"the bundle is larger than {limit:,} bytes once decompressed", field="bundle")
        stream += decompressor.flush()
        head, _, body = stream.partition(b"\n")
        entries = orjson.loads(head)
        files, contents, offset = [], {}, 0
        for entry in entries:
            path, size = _safe_path(entry["path"]), entry["size"]
            if not isinstance(size, int) or size < 0 or not isinstance(entry["executable"], bool):
                raise Invalid(f"bundle file {path!r}: a malformed manifest entry", field="bundle")
            data = body[offset : offset + size]
            offset += size
            if hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise Invalid(f"bundle file {path!r} does not match its sha256", field="bundle")
            files.append(BundleFile(path, size, entry["executable"], entry["sha256"]))
            contents[path] = data
    except (ValueError, TypeError, KeyError, zlib.error) as exc:  # binascii.Error and JSON errors are ValueErrors
        raise Invalid(f"the bundle is not an encoded snapshot ({type(exc).__name__})", field="bundle") from None
    snap = Snapshot(files, contents, digest_of(files))
    if not files or offset != len(body) or len(set(contents)) != len(files):
        raise Invalid("the bundle's files do not match its manifest", field="bundle")
    if snap.digest != digest:
        raise Invalid(f"the bundle's content has digest {snap.digest}, not {digest}", field="bundle.digest")
    return snap


# -- the cache of extracted bundles -----------------------------------------------------------------------


def cache_dir(home: Path, digest: str) -> Path:
    return home / "cache" / "bundles" / digest.replace(":", "-")


def write_tree(snap: Snapshot, target: Path) -> Path:
    """Extract a snapshot to ``target`` (a temporary directory renamed into place); reuse it if it is there."""
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=target.parent))
    try:
        for f in snap.files:
            dest = staging / f.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(snap.contents[f.path])
            dest.chmod(0o755 if f.executable else 0o644)
        try:
            staging.rename(target)
        except OSError:  # another process extracted it first: theirs is the same tree
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


_verified: set[Path] = set()  # cached trees this process checked against their digest


def extracted(app: EvalsApplication, home: Path, digest: str) -> Path:
    """The cached tree of a stored bundle, extracted from the log first when missing (or damaged)."""
    target = cache_dir(home, digest)
    if target in _verified:
        return target
    if target.is_dir():
        if live_digest(str(target), [], [], git=False) == digest:
            _verified.add(target)
            return target
        shutil.rmtree(target, ignore_errors=True)  # a damaged copy: extract it again
    write_tree(decode(app.bundle_chunks(digest), digest), target)
    _verified.add(target)
    return target


def code_path(app: EvalsApplication, home: Path, deployment: Deployment) -> str:
    """Where a Python deployment's module is imported from: its extracted snapshot, or (editable) its path."""
    if deployment.bundle_digest:
        return str(extracted(app, home, deployment.bundle_digest))
    return deployment.path
