"""A snapshot uploaded with ``POST /deployments {name, module, bundle}`` is untrusted input: checked, never a 5xx,
never written outside its tree."""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from agnt5_evals.adapters import bundles
from agnt5_evals.api.main import create_app

MODULE = (
    'from agnt5_evals import component\n\n\n@component("echo", type="function")\ndef echo(input):\n    return input\n'
)


@pytest.fixture
def client(services) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def encoded(files: dict[str, bytes], digest: str | None = None) -> dict[str, object]:
    """A bundle as a client sends it; ``digest`` None: the right one."""
    manifest = [{"path": p, "size": len(b), "executable": False, "sha256": hashlib.sha256(b).hexdigest()}
                for p, b in files.items()]  # fmt: skip
    stream = zlib.compress(orjson.dumps(manifest) + b"\n" + b"".join(files.values()))
    listed = [bundles.BundleFile(str(m["path"]), int(m["size"]), False, str(m["sha256"])) for m in manifest]
    return {"digest": digest or bundles.digest_of(listed), "encoding": bundles.ENCODING,
            "chunks": [base64.b64encode(stream).decode()]}  # fmt: skip


def test_an_uploaded_bundle_becomes_a_snapshot_deployment(client):
    bundle = encoded({"echo_mod.py": MODULE.encode()})
    made = client.post("/api/v1/deployments", json={"name": "up", "module": "echo_mod", "bundle": bundle})
    assert made.status_code == 201, made.text
    assert made.json()["bundle_digest"] == bundle["digest"] and made.json()["components"][0]["name"] == "echo"


@pytest.mark.parametrize(
    ("bundle", "field"),
    [
        (encoded({"../escape.py": MODULE.encode()}), "bundle"),
        (encoded({"/etc/passwd.py": MODULE.encode()}), "bundle"),
        (encoded({"pkg/../../x.py": MODULE.encode()}), "bundle"),
        (encoded({"echo_mod.py": MODULE.encode()}, digest="sha256:" + "0" * 64), "bundle.digest"),
        ({"digest": "sha256:x", "encoding": bundles.ENCODING, "chunks": ["not base64!"]}, "bundle"),
        ({"digest": "sha256:x", "encoding": bundles.ENCODING, "chunks": [base64.b64encode(b"plain").decode()]},
         "bundle"),
        ({"digest": "sha256:x", "encoding": "zip", "chunks": []}, "bundle.encoding"),
    ],
)  # fmt: skip
def test_a_bad_bundle_is_refused_naming_the_field(client, services, bundle, field):
    made = client.post("/api/v1/deployments", json={"name": "bad", "module": "echo_mod", "bundle": bundle})
    assert made.status_code == 422 and made.json()["field"] == field, made.text
    assert not (Path(services.settings.home).parent / "escape.py").exists()
    assert client.get("/api/v1/deployments").json() == []


def test_a_decompression_bomb_is_refused_before_it_is_inflated(client):
    bomb = zlib.compress(b"[]\n" + b"\0" * (bundles.MAX_MAX_SIZE + 1024), 9)  # a few hundred KiB on the wire
    bundle = {"digest": "sha256:x", "encoding": bundles.ENCODING, "chunks": [base64.b64encode(bomb).decode()]}
    made = client.post("/api/v1/deployments", json={"name": "bomb", "module": "m", "bundle": bundle})
    assert made.status_code == 422 and "larger than" in made.json()["message"]
