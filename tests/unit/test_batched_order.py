"""``handlers.batched`` orders a batch's operations by buckets; this is the order it must keep: the stable sort by
statement within each segment between in-log-order statements, consecutive statements grouped."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agnt5_evals.projections import handlers
from agnt5_evals.projections.handlers import ADD_RUN_SCORER, ADD_RUN_SCORERS, IN_LOG_ORDER, ORDER, batched

UNRANKED = [handlers.SET_ARCHIVED["datasets", 1], handlers.SET_ARCHIVED["datasets", 0], "UPDATE {p}other SET x = ?"]
STATEMENTS = [*ORDER, *sorted(IN_LOG_ORDER), *UNRANKED]


def sorted_then_grouped(ops: list[tuple[str, tuple[Any, ...]]]) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """The definition: each segment sorted by rank (stable), then runs of one statement grouped."""
    rank = {sql: n for n, sql in enumerate(ORDER)}
    ordered: list[tuple[str, tuple[Any, ...]]] = []
    segment: list[tuple[str, tuple[Any, ...]]] = []
    for op in ops:
        if op[0] in IN_LOG_ORDER:
            ordered.extend(sorted(segment, key=lambda o: rank.get(o[0], len(ORDER))))
            ordered.append(op)
            segment = []
        else:
            segment.append(op)
    ordered.extend(sorted(segment, key=lambda o: rank.get(o[0], len(ORDER))))
    groups: list[tuple[str, list[tuple[Any, ...]]]] = []
    for sql, params in ordered:
        if groups and groups[-1][0] == sql:
            groups[-1][1].append(params)
        else:
            groups.append((sql, [params]))
    return [
        (ADD_RUN_SCORERS, handlers._sum_scorer_increments(rows)) if sql == ADD_RUN_SCORER else (sql, rows)
        for sql, rows in groups
    ]


def op(sql: str, n: int) -> tuple[str, tuple[Any, ...]]:
    if sql == ADD_RUN_SCORER:
        return sql, (f"run{n % 2}", f"key{n % 3}", n % 3, 1, n, n % 2, 1 - n % 2, 0)
    return sql, (n,)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(STATEMENTS), max_size=60))
def test_batched_orders_a_batch_as_the_stable_sort_within_each_segment(statements: list[str]) -> None:
    ops = [op(sql, n) for n, sql in enumerate(statements)]
    assert batched(ops) == sorted_then_grouped(ops)
