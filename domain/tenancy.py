"""Projects and who is asking: the tenancy vocabulary every room shares.

Every resource belongs to one project. A request, a command-line invocation or a test acts *in* a project:
:func:`project_scope` sets it for the current context (thread or task) and :func:`current_project` reads it.
``None`` is the system scope of workers and maintenance commands, which act on every project's runs; the edges
(REST, CLI, MCP) always set a project. A resource of another project is reported as not found, never as forbidden:
its existence is not disclosed.

API keys carry a project and a :class:`Scope`; :class:`Principal` is what an authenticated request acts as.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum

from agnt5_evals.domain.errors import Invalid

DEFAULT_PROJECT = "default"
"""The project of local use: what the CLI and an unauthenticated local server act in, and where resources written
before projects existed belong."""

KEY_PREFIX = "agnt5_sk_"
"""Every API key starts with this (the public SDK's ``Client`` refuses any other form)."""

_PROJECT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

_project: ContextVar[str | None] = ContextVar("agnt5_project", default=None)


class Scope(StrEnum):
    """What a key may do, each including the ones before it: ``read`` queries, ``write`` creates datasets,
    experiments and runs, ``admin`` also makes the server run code or call out (deployments, custom scorers,
    code bundles, HTTP targets) and manages keys."""

    read = "read"
    write = "write"
    admin = "admin"

    def allows(self, needed: Scope) -> bool:
        order = list(Scope)
        return order.index(self) >= order.index(needed)


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a project and a scope, and the key that proved it (``None``: no key, local use)."""

    project_id: str
    scope: Scope
    key_id: str | None = None


def check_project_id(value: str, field: str = "project_id") -> str:
    """A project id as given (``default``, a UUID, or a slug of lowercase letters, digits, ``-`` and ``_``)."""
    if not isinstance(value, str) or not _PROJECT_ID.match(value):
        raise Invalid("must be a project id: 1-64 lowercase letters, digits, '-' or '_' (e.g. default)", field=field)
    return value


def current_project() -> str | None:
    """The project the current context acts in; ``None``: the system scope (workers), which sees every project."""
    return _project.get()


def project_for_new() -> str:
    """The project a resource created now belongs to."""
    return _project.get() or DEFAULT_PROJECT


def visible(project_id: str | None) -> bool:
    """Whether a resource of ``project_id`` may be seen from the current context (``None``: written before
    projects existed, so the default project's)."""
    scope = _project.get()
    return scope is None or scope == (project_id or DEFAULT_PROJECT)


@contextmanager
def project_scope(project_id: str | None) -> Iterator[None]:
    """Act in ``project_id`` (``None``: the system scope) until the block ends."""
    token = _project.set(project_id)
    try:
        yield
    finally:
        _project.reset(token)


def enter_project(project_id: str | None) -> None:
    """Act in ``project_id`` for the rest of the current context: for a context that ends with the work, such as
    the task of one HTTP request (a dependency sets it; the handler and its thread see it; no other request does)."""
    _project.set(project_id)
