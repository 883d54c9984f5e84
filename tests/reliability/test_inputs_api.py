"""API inputs that used to answer 500: each is a 422 problem body naming the field, on both stores (issue 9, 6).

(A malformed JSON body already answers a problem body: tests/api/test_problem_bodies.py.)
"""

from __future__ import annotations

import pytest

from tests.reliability.conftest import problem

HUGE = 10**30
MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.mark.parametrize(
    ("query", "field"),
    [(f"page={HUGE}", "page"), ("page=-1", "page"), (f"page=1&page_size={HUGE}", "page_size"),
     ("page=1&page_size=0", "page_size")],
)  # fmt: skip
def test_page_numbers_out_of_range_are_refused(client, query, field):
    assert problem(client.get(f"/api/v1/experiments?{query}"))["field"] == field


def test_other_huge_numbers_in_queries_are_refused(client):
    ds = client.post("/api/v1/datasets", json={"name": "huge"}).json()["id"]
    assert problem(client.get(f"/api/v1/datasets/{ds}/examples?version={HUGE}"))["field"] == "version"
    assert problem(client.get(f"/api/v1/audit/events?after={HUGE}"))["field"] == "after"


def test_a_lone_surrogate_and_a_huge_integer_in_a_body_name_their_field(client):
    surrogate = client.post("/api/v1/datasets", content=b'{"name": "x\\udc00"}',
                            headers={"content-type": "application/json"})  # fmt: skip
    assert problem(surrogate)["field"] == "name"
    huge = client.post("/api/v1/datasets", content=b'{"name": "x", "metadata": {"n": %d}}' % HUGE,
                       headers={"content-type": "application/json"})  # fmt: skip
    assert problem(huge)["field"] == "metadata.n"
    assert client.get("/api/v1/datasets").json() == []  # nothing was created


@pytest.mark.parametrize("value", [0, 1, "true"])
def test_replace_latest_must_be_a_boolean(client, value):
    body = problem(client.post(f"/api/v1/eval/runs/{MISSING}/rescore", json={"replace_latest": value}))
    assert body["field"] == "replace_latest"
