"""The errors every edge (CLI, REST) maps once: to an exit code or an HTTP status."""

from __future__ import annotations


class EvalsError(Exception):
    """Base class of every error this service raises on purpose."""


class NotFound(EvalsError):
    """A referenced entity (dataset, version, experiment, run, score ...) does not exist."""


class Conflict(EvalsError):
    """The request contradicts stored state: immutability, duplicates or a wrong status."""


class Invalid(EvalsError):
    """The input is malformed or breaks a rule; the message names the field."""


class Unavailable(EvalsError):
    """The store cannot be opened or reached (a wrong AGNT5_DATABASE_URL or AGNT5_HOME, a server down)."""
