"""Digests that make the log tamper-evident: canonical JSON, hash chains over a run's chunks, content digests.

A digest is the SHA-256 of a value's canonical JSON (keys sorted, UTF-8, no spaces: orjson with sorted keys,
which is what the stored payloads already are, so a digest computed when an event is recorded is computed again
from the stored event byte for byte). A run's events form a chain: ``Run.Started`` records the digest of its own
fields, each ``ChunkRecorded`` the digest of the previous link and of its items, and ``Completed`` one digest over
the experiment version, the dataset version's content digest, the deployment's digest and the results (the last
link). A rescore's chunks chain the same way. A dataset version records each chunk's digest and the content digest
of its items (independent of how they are chunked). ``agnt5 audit verify`` recomputes all of them from the log.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

GENESIS = "0" * 64  # the link before a run's first event
META = ("originator_id", "originator_version", "timestamp", "originator_topic", "class_version")  # the envelope
LOCATOR = 16  # hex digits of an item's own digest kept to name an edited item (the chain itself is full-strength)


def canonical(value: Any) -> bytes:
    """The canonical JSON of a value: sorted keys, no spaces; UUIDs as their hyphenated string."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def digest(value: Any) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()


def link(previous: str, content: Any) -> str:
    """The next link of a chain: the digest of the previous link and of this event's content."""
    return hashlib.sha256(previous.encode() + b"\n" + canonical(content)).hexdigest()


def items_digest(items: Iterable[Mapping[str, Any]]) -> str:
    """The digest of a sequence of items: one canonical line each, so it does not depend on how they are chunked."""
    hasher = hashlib.sha256()
    for item in items:
        hasher.update(canonical(item))
        hasher.update(b"\n")
    return hasher.hexdigest()


def items_locators(items: Iterable[Mapping[str, Any]]) -> tuple[str, list[str]]:
    """``items_digest`` of the items, and a short digest of each (to name the item that does not match)."""
    hasher, locators = hashlib.sha256(), []
    for item in items:
        line = canonical(item) + b"\n"
        hasher.update(line)
        locators.append(hashlib.sha256(line).hexdigest()[:LOCATOR])
    return hasher.hexdigest(), locators


def parts_digests(parts: Iterable[Iterable[Mapping[str, Any]]]) -> tuple[str, list[str]]:
    """The digest of all items of consecutive parts, and of each part (each item is encoded once)."""
    whole, each = hashlib.sha256(), []
    for part in parts:
        hasher = hashlib.sha256()
        for item in part:
            line = canonical(item) + b"\n"
            hasher.update(line)
            whole.update(line)
        each.append(hasher.hexdigest())
    return whole.hexdigest(), each


def content(payload: Mapping[str, Any], *, without: tuple[str, ...] = ()) -> dict[str, Any]:
    """An event's own fields as stored: its payload without the envelope (and without ``without``)."""
    skip = (*META, *without)
    return {key: value for key, value in payload.items() if key not in skip}


def started(init: Callable[..., Any], fields: Mapping[str, Any]) -> str:
    """The first link of a run's or a rescore's chain: the digest of its start event's fields as they will be
    stored (those left out take their defaults), without the digest itself."""
    bound = inspect.signature(init).bind(None, **fields)
    bound.apply_defaults()
    stored = dict(bound.arguments)
    del stored["self"]
    return link(GENESIS, content(stored, without=("digest",)))


def chunk(previous: str, chunk_no: int, start: int, end: int, counts: Mapping[str, int], items: str) -> str:
    """A chunk's link: its place in the run, its counts and the digest of its items' recorded events."""
    return link(previous, {"chunk_no": chunk_no, "start": start, "end": end, "counts": dict(counts), "items": items})


def completed(previous: str, sources: Mapping[str, Any]) -> str:
    """The completion link: what ran (experiment version, dataset content, deployment code) and the results."""
    return link(previous, dict(sources))
