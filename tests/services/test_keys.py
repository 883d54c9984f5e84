"""API keys as use cases: keys made at the same time all land on the project's ring; each project lists its own."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from agnt5_evals.domain.errors import Invalid, Unauthorized
from agnt5_evals.domain.tenancy import Scope
from agnt5_evals.services import keys


def test_keys_made_at_the_same_time_are_all_listed(services):
    with ThreadPoolExecutor(max_workers=6) as pool:
        made = list(pool.map(lambda n: keys.create_key(services, "busy", "write", f"k{n}"), range(12)))
    listed = keys.list_keys(services, "busy")
    assert sorted(row["id"] for row in listed) == sorted(row["id"] for row in made)
    assert all(keys.authenticate(services, row["key"]).scope is Scope.write for row in made)


def test_each_project_lists_its_own_keys_and_a_key_acts_in_its_project(services):
    a = keys.create_key(services, "team-a", "read", "a")
    keys.create_key(services, "team-b", "admin", "b")
    assert [row["name"] for row in keys.list_keys(services, "team-a")] == ["a"]
    assert keys.list_keys(services, "nobody") == []
    principal = keys.authenticate(services, a["key"])
    assert (principal.project_id, principal.scope, principal.key_id) == ("team-a", Scope.read, a["id"])


def test_bad_scope_and_project_are_refused_naming_the_field(services):
    with pytest.raises(Invalid) as scope:
        keys.create_key(services, "default", "superuser")
    assert scope.value.field == "scope"
    with pytest.raises(Invalid) as project:
        keys.create_key(services, "../etc", "read")
    assert project.value.field == "project_id"


def test_a_token_of_another_form_is_refused_with_the_same_message(services):
    for token in ("", "agnt5_sk_", "agnt5_sk_" + "0" * 32, "Bearer x", "agnt5_sk_" + "f" * 500):
        with pytest.raises(Unauthorized, match=r"^invalid API key$"):
            keys.authenticate(services, token)
