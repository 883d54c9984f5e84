"""Arguments that name a resource: an id, or a unique name of the right kind in the current project.

Every command argument and option that takes a dataset, experiment, deployment, scorer, prompt or run takes its
name too, and a version (of a dataset, experiment or prompt) takes its number (``3`` or ``v3``) next to its parent.
A string that parses as a UUID is an id. The gateway looks a name up (locally in the read model, remotely with
``GET /resolve``); the rule is ``domain.names``: an unknown name is not found, an ambiguous one is refused with
every candidate listed.
"""

from __future__ import annotations

from typing import Protocol

from agnt5_evals.cli.gateway import gateway
from agnt5_evals.domain.names import as_id


class Resolver(Protocol):
    def resolve(self, kind: str, ref: str, field: str, parent: str = "") -> str: ...


def ref(gw: Resolver, kind: str, value: str, field: str, parent: str = "") -> str:
    """The id ``value`` stands for: itself when it is a UUID, else the one ``kind`` it names (a version: of that
    number under ``parent``). Errors name ``field`` (the argument or flag)."""
    return as_id(value) or gw.resolve(kind, value, field, parent)


def opt_ref(gw: Resolver, kind: str, value: str | None, field: str, parent: str = "") -> str | None:
    """:func:`ref` of an option that may be absent (None or empty stays None)."""
    return ref(gw, kind, value, field, parent) if value else None


def ref_now(kind: str, value: str, field: str) -> str:
    """:func:`ref` before any store is open (a command that forks a standby worker first): a name is looked up
    through its own short-lived gateway; an id needs none."""
    ident = as_id(value)
    if ident is not None:
        return ident
    with gateway() as gw:
        return gw.resolve(kind, value, field)


def refs(gw: Resolver, kind: str, values: list[str] | None, field: str) -> list[str]:
    """:func:`ref` of each value of a repeatable option."""
    return [ref(gw, kind, value, field) for value in values or []]
