"""The resource routers are mounted hot reads first (``api.main.RESOURCES``: FastAPI tries the routes of every router
before the one that answers). That is safe only because no two routers answer the same request: a path of one
router that another's route could also match (a literal segment where the other has a parameter, say) would make
the order decide which route answers. Checked here for every pair of routes of different routers."""

from __future__ import annotations

import itertools
import re

from fastapi.routing import APIRoute

from agnt5_evals.api.main import PROJECT_PREFIX, RESOURCES
from agnt5_evals.api.routes import inline, projects, runs, scores

PARAMETER = re.compile(r"^{[^}:]+}$")  # one whole segment; a converter (``{x:path}``) would span several
API_PREFIX = "/api/v1"


def _segments(route: APIRoute) -> list[str]:
    segments = route.path.strip("/").split("/")
    assert all("{" not in s or PARAMETER.match(s) for s in segments), f"{route.path}: a parameter spans segments"
    return segments


def overlap(a: APIRoute, b: APIRoute) -> bool:
    """Whether one request could match both routes: a method in common and, segment by segment, equal literals or a
    parameter on either side."""
    if not (a.methods or set()) & (b.methods or set()):
        return False
    left, right = _segments(a), _segments(b)
    return len(left) == len(right) and all(
        x == y or PARAMETER.match(x) or PARAMETER.match(y) for x, y in zip(left, right, strict=True)
    )


def test_the_overlap_check_sees_a_literal_against_a_parameter() -> None:
    first = APIRoute("/runs/{run_id}/gate", lambda: None, methods=["GET"])
    assert overlap(first, APIRoute("/runs/{run_id}/{view}", lambda: None, methods=["GET"]))
    assert overlap(first, APIRoute("/{kind}/{id}/gate", lambda: None, methods=["GET"]))
    assert not overlap(first, APIRoute("/runs/{run_id}/gate", lambda: None, methods=["POST"]))
    assert not overlap(first, APIRoute("/runs/{run_id}/items", lambda: None, methods=["GET"]))
    assert not overlap(first, APIRoute("/runs/{run_id}", lambda: None, methods=["GET"]))


def _mounted() -> list[tuple[str, APIRoute]]:
    """Every route as ``api.main.create_app`` mounts it (its router's name, the route at its full path)."""
    mounted = []
    for module in RESOURCES:
        for prefix in (API_PREFIX, PROJECT_PREFIX):
            mounted += [(module.__name__, APIRoute(prefix + r.path, r.endpoint, methods=r.methods))
                        for r in module.router.routes if isinstance(r, APIRoute)]  # fmt: skip
    for module, prefix in ((projects, API_PREFIX), (inline, "")):
        mounted += [(module.__name__, APIRoute(prefix + r.path, r.endpoint, methods=r.methods))
                    for r in module.router.routes if isinstance(r, APIRoute)]  # fmt: skip
    return mounted


def test_no_two_routers_answer_the_same_request() -> None:
    routes = _mounted()
    assert len(routes) > 120
    clashes = [
        (f"{ma}: {a.path}", f"{mb}: {b.path}")
        for (ma, a), (mb, b) in itertools.combinations(routes, 2)
        if ma != mb and overlap(a, b)
    ]
    assert clashes == []


def test_the_polled_reads_are_mounted_first() -> None:
    assert RESOURCES[:2] == (runs, scores)
