"""docs/rest.md lists exactly the routes the API serves (path parameters compared by position, not name)."""

from __future__ import annotations

import re
from pathlib import Path

from agnt5_evals.api.main import create_app

DOC = Path(__file__).resolve().parents[2] / "docs" / "rest.md"


def _shape(method: str, path: str) -> str:
    return f"{method} {re.sub(r'{[^}]*}', '{}', path.split('?')[0])}"


def test_the_rest_reference_matches_the_routes(isolated_home):
    every = {
        _shape(method.upper(), path.removeprefix("/api/v1"))
        for path, operations in create_app().openapi()["paths"].items()
        for method in operations
    }
    served = {shape for shape in every if not shape.split()[1].startswith("/projects/{}/")}
    outside = {shape for shape in served if shape.split()[1].startswith("/projects")}  # the projects themselves
    assert len(served) > 30
    projected = {shape for shape in every if shape not in served}
    gateway = {shape for shape in served if shape.split()[1].startswith("/v1/")}  # the gateway's, as the SDK calls
    assert gateway == {"POST /v1/eval", "POST /v1/eval/batch"}
    resources = served - gateway - outside
    twins = {f"{method} /projects/{{}}{path}" for method, path in (shape.split() for shape in resources)}
    assert twins <= projected, "every resource route is served under /projects/{project_id} too"
    documented = {
        _shape(method, path)
        for method, path in re.findall(r"^\| `(GET|POST|PUT|PATCH|DELETE) (/[^` ]*)", DOC.read_text(), re.MULTILINE)
    }
    assert served - documented == set(), "served but not in docs/rest.md"
    assert documented - served == set(), "in docs/rest.md but not served"
