"""``EvalsView.reading``: a read's queries in one transaction of the live generation, on both stores."""

from __future__ import annotations

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.projections import queries, views


def test_a_reading_of_another_view_inside_gives_the_outer_one_its_transaction_back(services):
    services.app.create_dataset("kept")
    other = Services(services.settings)
    try:

        def outer() -> tuple[object, object, list[str], list[str]]:
            cursor = views._READING.cursor
            inner = other.view.reading(lambda: [row["name"] for row in queries.datasets(other.view)])
            after = [row["name"] for row in queries.datasets(services.view)]
            return cursor, (views._READING.view, views._READING.cursor), inner, after

        cursor, state, inner, after = services.view.reading(outer)
        assert state == (services.view, cursor)  # the rest of the outer read is still in its own transaction
        assert inner == after == ["kept"]
        assert getattr(views._READING, "view", None) is None  # and nothing is left open after it
    finally:
        other.close()
