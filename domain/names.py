"""References by name: wherever an id is taken, a unique name of the right kind (in the current project) is too.

The rule, pure: a reference that parses as a UUID is an id (:func:`as_id`); otherwise the rows of that kind bearing
the name are its candidates, and :func:`pick` answers the one id, ``NotFound`` when there is none, or ``Invalid``
listing every candidate (id, created_at, and a run's experiment) when the name is ambiguous. A version (of a
dataset, experiment or prompt) has no name: it is referred to by its number (``3`` or ``v3``) under its parent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from agnt5_evals.domain.errors import Invalid, NotFound

NAMED = ("dataset", "experiment", "deployment", "scorer", "prompt", "run")
"""Kinds whose rows have a name."""

VERSIONS = {"dataset_version": "dataset", "experiment_version": "experiment", "prompt_version": "prompt"}
"""Kinds referred to by number under a parent: the kind of their parent."""

KINDS = NAMED + tuple(VERSIONS)

_NUMBER = re.compile(r"^[vV]?(\d{1,9})$")


def as_id(ref: str) -> str | None:
    """``ref`` as a canonical id when it parses as a UUID (precedence: such a string is always an id), else None."""
    try:
        return str(UUID(ref.strip()))
    except ValueError:
        return None


def check_ref(kind: str, ref: str, field: str) -> str:
    """The reference stripped, or Invalid (naming ``field``) when it is empty or ``kind`` is not one we know."""
    if kind not in KINDS:
        raise Invalid(f"must be one of {', '.join(KINDS)}, got {kind!r}", field="kind")
    text = ref.strip() if isinstance(ref, str) else ""
    if not text:
        raise Invalid(f"give a {what(kind)} id or {'number' if kind in VERSIONS else 'name'}", field=field)
    return text


def version_number(kind: str, ref: str, field: str) -> int:
    """A version's number from ``3`` or ``v3``; Invalid otherwise."""
    match = _NUMBER.match(ref)
    if match is None or int(match.group(1)) < 1:
        raise Invalid(f"{ref!r} is neither a {what(kind)} id nor a version number (like 3 or v3)", field=field)
    return int(match.group(1))


def what(kind: str) -> str:
    """How a message names the kind: ``dataset version``."""
    return kind.replace("_", " ")


def pick(kind: str, ref: str, candidates: Sequence[Mapping[str, Any]], field: str) -> str:
    """The id of the one candidate; NotFound when there is none, Invalid listing them when there are several."""
    if len(candidates) == 1:
        return str(candidates[0]["id"])
    if not candidates and kind in VERSIONS:
        raise NotFound(f"the {VERSIONS[kind]} has no version {ref}", field=field)
    if not candidates:
        raise NotFound(f"no {what(kind)} {ref!r} in this project", field=field)
    listed = "; ".join(_candidate(row) for row in candidates)
    raise Invalid(f"{len(candidates)} {what(kind)}s are named {ref!r}, give the id of one: {listed}", field=field)


def _candidate(row: Mapping[str, Any]) -> str:
    extra = f", experiment {row['experiment_name']!r} {row['experiment_id']}" if row.get("experiment_id") else ""
    archived = ", archived" if row.get("archived") else ""
    return f"{row['id']} (created {row['created_at']}{extra}{archived})"
