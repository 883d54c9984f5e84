"""docs/events.md lists every event type with its fields and class version, and stays equal to the code."""

from __future__ import annotations

from pathlib import Path

from agnt5_evals.domain.event_catalog import catalog
from agnt5_evals.domain.runs import RunChunk
from scripts.events_reference import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def test_docs_events_md_is_generated_from_the_code() -> None:
    assert DOC.read_text() == render(), "docs/events.md is stale: run scripts/gen-events-docs"


def test_the_catalog_has_every_aggregate_and_event_with_its_version_and_fields() -> None:
    by_topic = {event.topic: event for event in catalog()}
    item = by_topic["agnt5_evals.domain.runs:RunChunk.ItemRecorded"]
    assert item.class_version == RunChunk.ItemRecorded.class_version == 2  # type: ignore[attr-defined]
    assert ("attempts", "int") in item.fields and ("run_item_id", "str") in item.fields
    aggregates = {event.aggregate for event in catalog()}
    assert {"Dataset", "DatasetVersion", "Run", "RunChunk", "Rescore", "Annotation", "PromptVersion"} <= aggregates
    assert "agnt5_evals.domain.model:Dataset.Created" in by_topic
