"""Deadlocks broken by PostgreSQL (a DDL's locks against another process's writes) are retried, not reported."""

from __future__ import annotations

from pathlib import Path

import pytest
from eventsourcing.persistence import OperationalError

from agnt5_evals.adapters.bootstrap import Settings, _with_ddl_retry
from agnt5_evals.domain.errors import Unavailable


def flaky(failures: list[Exception]):
    def construct() -> str:
        if failures:
            raise failures.pop(0)
        return "opened"

    return construct


def test_a_deadlock_while_opening_the_store_is_retried():
    settings = Settings(home=Path("/nonexistent"))
    construct = flaky([OperationalError("deadlock detected\nDETAIL: ..."), OperationalError("deadlock detected")])
    assert _with_ddl_retry(settings, construct) == "opened"


def test_other_operational_errors_are_unavailable_at_once(tmp_path):
    settings = Settings(home=tmp_path)
    failures: list[Exception] = [OperationalError("disk I/O error"), OperationalError("never reached")]
    with pytest.raises(Unavailable, match="disk I/O error"):
        _with_ddl_retry(settings, flaky(failures))
    assert len(failures) == 1
