"""Render docs/events.md from agnt5_evals.domain.event_catalog (run through scripts/gen-events-docs)."""

from __future__ import annotations

from agnt5_evals.domain.event_catalog import BASE_FIELDS, CREATED_FIELDS, aggregates, event_classes

HEADER = f"""# Event reference

Generated from the domain's classes by `scripts/gen-events-docs`; do not edit by hand
(`tests/unit/test_events_reference.py` keeps it equal to the code).

Every change of state is one of these immutable events in the append-only log. Each stored event has a **topic**
(`module:Class.Event`, which names the class that decodes it), its aggregate's id and version, and a JSON payload
with the fields below. Every event also carries {", ".join(f"`{f}`" for f in BASE_FIELDS)}; the first event of an
aggregate carries {", ".join(f"`{f}`" for f in CREATED_FIELDS)} too. `agnt5 projections rebuild` folds them into
the read model again; see docs/architecture.md for why the aggregates are cut the way they are.

## Changing an event: class versions and upcasting

An event in the log is never rewritten. When a field is added to an event class, old events in existing stores
still have the old payload, so the class declares its **class version** and an **upcaster** for each step; the
library applies them, in order, to every older payload it decodes, before the event object is built:

```python
def _item_recorded_v1_v2(state: dict[str, Any]) -> None:
    \"\"\"Items recorded before retries and token counts existed: one attempt, no tokens known.\"\"\"
    state.setdefault("attempts", 1)
    state.setdefault("tokens", 0)


RunChunk.ItemRecorded.class_version = 2
RunChunk.ItemRecorded.upcast_v1_v2 = staticmethod(_item_recorded_v1_v2)
```

New events are stored with the current version (`class_version` in the payload's metadata), so an upcaster only
ever runs on old events. Rules: add fields with a default an old event can be given truthfully (as above), never
change the meaning of an existing field, and never rename a class or module without registering its old topic
(`eventsourcing.utils.register_topic`; `domain/__init__.py` does this for the `domain.*` topics of stores written
before the one-package layout). A change the read model must see also bumps the projection's `VIEW_NAME`, which
rebuilds it from the log.

Projects: the create event of each aggregate a project owns records `project_id` (a child's is its parent's); the
class version that added it upcasts an older event to the `default` project (`domain/projects.py:
owned_by_project`; docs/architecture.md, "Projects and isolation").
"""


def render() -> str:
    lines = [HEADER]
    for aggregate in aggregates():
        doc = (aggregate.__doc__ or "").strip().splitlines()[0] if aggregate.__doc__ else ""
        lines.append(f"## {aggregate.__name__}\n")
        if doc:
            lines.append(f"{doc}\n")
        lines.append("| event | topic | class version | fields |")
        lines.append("|---|---|---|---|")
        for event in event_classes(aggregate):
            fields = ", ".join(f"`{name}: {kind}`".replace("|", "\\|") for name, kind in event.fields) or "(none)"
            lines.append(f"| `{event.name}` | `{event.topic}` | {event.class_version} | {fields} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(render(), end="")
