"""The read model stores a run item's trace compact (``projections.traces``): reading it back gives the recorded
events exactly, byte for byte once encoded, whatever the trace holds."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from agnt5_evals.projections.traces import compact, expand
from agnt5_evals.sdk import Context

ITEM = "e6a58ec0-1f2f-5cca-9562-7c1d3c436ea9"


def _round_trip(events: Any) -> bytes:
    """What a read answers for ``events``: stored as the handlers write it, read back as the queries decode it."""
    return orjson.dumps(expand(orjson.loads(orjson.dumps(compact(events)))))


def _worker_trace(failed: bool = False) -> list[dict[str, Any]]:
    """A trace as the worker records one: started, a tool call and an LLM call (own correlation ids, names), end."""
    ctx = Context(ITEM)
    ctx.event("run.started", {"dataset_item_id": "d1", "repetition": 0})
    ctx.tool_call("search_orders", {"order_id": 7}, result={"status": "shipped"})
    ctx.llm_call("gpt-x", input_tokens=3, output_tokens=4)
    if failed:
        ctx.event("run.failed", {"error": "RuntimeError: boom", "error_code": "RuntimeError", "attempts": 1})
    else:
        ctx.event("run.completed", {"attempts": 1})
    return ctx.events


def test_a_fast_items_trace_is_stored_in_less_than_half_the_bytes():
    ctx = Context(ITEM)
    ctx.event("run.started", {"dataset_item_id": "c93fb9f0-8b8f-42dc-87b9-60d79cda31e7", "repetition": 0})
    ctx.event("run.completed", {"attempts": 1})
    stored = orjson.dumps(compact(ctx.events))
    assert stored.startswith(b"{")
    assert len(stored) * 2 < len(orjson.dumps(ctx.events))  # 213 bytes for 532
    assert _round_trip(ctx.events) == orjson.dumps(ctx.events)


def test_events_with_their_own_ids_or_names_are_kept_whole():
    events = _worker_trace(failed=True)
    stored = compact(events)
    assert isinstance(stored, dict)
    kept = stored["e"]
    # the item's own events are elided; the tool and LLM events (their own correlation id, or a name) are not
    assert [type(event).__name__ for event in kept] == ["list", "dict", "dict", "dict", "list"]
    assert kept[1] is events[1] and kept[3] is events[3]
    assert _round_trip(events) == orjson.dumps(events)


def test_what_cannot_be_rebuilt_exactly_is_stored_as_it_is():
    canonical = _worker_trace()
    reordered = [dict(reversed(list(canonical[0].items()))), *canonical[1:]]
    extra = [{**canonical[0], "more": 1}, *canonical[1:]]
    a_list = [*canonical, ["run.completed", 1, {}]]  # would read back as a compact event
    cases: list[Any] = [[], [1, 2], ["x"], [{"event_type": "x"}], reordered, extra, a_list, None, "[]"]
    for events in cases:
        if events is not reordered and events is not extra:
            assert compact(events) is events
        assert _round_trip(events) == orjson.dumps(events)
    for events in ({}, {"c": ITEM, "e": []}, {"v": 1}):  # an object is no trace, and still reads back as it was
        assert _round_trip(events) == orjson.dumps(events)


def test_values_in_memory_read_back_as_orjson_wrote_them():
    """The worker projects the values it holds (``catchup.apply_own``), before any round trip through the log:
    a tuple is written as an array and a dict subclass as an object, so they are kept as such."""
    canonical = _worker_trace()
    cases: list[Any] = [
        [*canonical, ("x", 5, {"a": 1})],  # a 3-tuple must not read back as a compact event
        [*canonical, ("x",)],
        (canonical[0], canonical[-1]),
        OrderedDict(c=ITEM, e=[]),
        [OrderedDict(canonical[0]), canonical[-1]],
    ]
    for events in cases:
        assert _round_trip(events) == orjson.dumps(events)


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)
_IDS = st.sampled_from([ITEM, "other", ""]) | st.text(max_size=6)


@st.composite
def _events(draw: st.DrawFn) -> list[Any]:
    """Traces near the worker's form: each field may be the one ``compact`` elides or anything else."""
    cid = draw(_IDS)
    events: list[Any] = []
    for index in range(draw(st.integers(0, 5))):
        if draw(st.integers(0, 9)) == 0:
            events.append(draw(_JSON))
            continue
        event = {
            "event_type": draw(st.sampled_from(["run.started", "run.completed"]) | _JSON),
            "event_id": draw(st.just(f"{cid}:{index}") | st.just(f"{cid}:{index + 1}") | _IDS),
            "correlation_id": draw(st.just(cid) | _IDS),
            "parent_correlation_id": draw(st.none() | _IDS),
            "timestamp_ns": draw(st.integers(0, 2**63) | _JSON),
            "data": draw(_JSON),
            "name": draw(st.none() | _IDS),
        }
        if draw(st.integers(0, 9)) == 0:
            del event[draw(st.sampled_from(sorted(event)))]
        events.append(event)
    return events


@given(_events() | _JSON)
def test_any_trace_reads_back_exactly(events):
    assert _round_trip(events) == orjson.dumps(events)
    assert expand(orjson.loads(orjson.dumps(compact(events)))) == events
