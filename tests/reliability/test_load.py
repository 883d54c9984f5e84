"""Reads under load, small: API clients read while a run writes, and nothing is lost (both stores).

The harness is the load benchmark's own (scripts/bench/load.py, loaded from its file: scripts are not a package),
so the benchmark and this test check the same things. No assertion on latency or time: the benchmark reports those.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from agnt5_evals.adapters.bootstrap import Services

BENCH = Path(__file__).resolve().parents[2] / "scripts" / "bench"
ITEMS, CLIENTS = 500, 5


@pytest.fixture(scope="module")
def load() -> Iterator[ModuleType]:
    """scripts/bench/load.py as a module (it imports its sibling ``common`` by name, as the scripts do)."""
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("bench_load", BENCH / "load.py")
        assert spec is not None and spec.loader is not None
        module = sys.modules["bench_load"] = importlib.util.module_from_spec(spec)  # its dataclasses look it up
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH))
    yield module


def test_readers_during_a_run_see_it_only_advance_and_it_loses_nothing(
    load: ModuleType, services: Services, tmp_path: Path
) -> None:
    """A run alone, then one under concurrent readers through the real server: every request answered, both runs
    complete with every item recorded and scored once, counters equal to rows, and no reader saw a run go back."""
    experiment_id = load.prepare(services, ITEMS, latency_ms=10, concurrency=8)
    outcome = load.measure(services.settings, experiment_id, ITEMS, CLIENTS, tmp_path)
    assert outcome.problems == []
    assert outcome.reads.error_count == 0 and outcome.reads.backwards == []
    assert outcome.reads.requests >= CLIENTS  # every client got at least one answer before the run ended
