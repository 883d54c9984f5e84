"""The errors every edge (CLI, REST, MCP) maps once, and the one table of the CLI's exit codes.

An error carries a neutral ``message`` and, when one input is at fault, its ``field`` in the service's own
vocabulary (``name``, ``target.type``, ``config.passed_threshold``, ``scorers[1].config``, ``file``): never a
command-line flag. Each edge renders the field its own way: the CLI as its flag, REST as ``field`` in the problem
body, MCP in the tool error.
"""

from __future__ import annotations


class EvalsError(Exception):
    """Base class of every error this service raises on purpose."""

    code = "error"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message

    def as_dict(self) -> dict[str, str | None]:
        """``{"message", "code", "field"}``: what REST and MCP clients receive."""
        return {"message": self.message, "code": self.code, "field": self.field}


class NotFound(EvalsError):
    """A referenced entity (dataset, version, experiment, run, score ...) does not exist."""

    code = "not_found"


class Conflict(EvalsError):
    """The request contradicts stored state: immutability, duplicates or a wrong status."""

    code = "conflict"


class Invalid(EvalsError):
    """The input is malformed or breaks a rule; ``field`` names the input at fault."""

    code = "invalid"


class Unauthorized(EvalsError):
    """No valid API key was presented (missing, malformed, unknown or revoked): REST answers 401."""

    code = "unauthorized"


class Forbidden(EvalsError):
    """The key is valid but its scope does not allow the action (a ``read`` key creating a run): REST 403."""

    code = "forbidden"


class Unavailable(EvalsError):
    """The store cannot be opened or reached (a wrong AGNT5_DATABASE_URL or AGNT5_HOME, a server down)."""

    code = "unavailable"


EXIT_OK = 0
EXIT_USAGE = 1
EXIT_GATE_FAILED = 2
EXIT_RUN_FAILED = 3
EXIT_TIMEOUT = 4
EXIT_AUDIT_FAILED = 5

EXIT_CODES: dict[int, str] = {
    EXIT_OK: "ok / gate passed",
    EXIT_USAGE: "usage or input error",
    EXIT_GATE_FAILED: "gate failed",
    EXIT_RUN_FAILED: "run failed or cancelled",
    EXIT_TIMEOUT: "wait timed out (or no verdict yet)",
    EXIT_AUDIT_FAILED: "audit found a problem (audit verify, audit check)",
}
"""The one table of the CLI's exit codes: every domain error exits ``EXIT_USAGE``; runs and gates the rest."""


def exit_codes_text() -> str:
    """The table as one sentence, for help texts and docs."""
    return "Exit codes: " + ", ".join(f"{code} {meaning}" for code, meaning in EXIT_CODES.items()) + "."
