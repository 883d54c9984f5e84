"""An orjson transcoder with the wire format of the library's JSONTranscoder.

Only top-level values (and the top level of a snapshot's ``state``) are tagged: event payloads keep
nested values JSON-native (str ids, ISO strings), which is what makes big chunk saves cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import Transcoder

_TAGGERS: dict[type, Callable[[Any], Any]] = {
    UUID: lambda v: {"_type_": "uuid_hex", "_data_": v.hex},
    datetime: lambda v: {"_type_": "datetime_iso", "_data_": v.isoformat()},
    Decimal: lambda v: {"_type_": "decimal_str", "_data_": str(v)},
    tuple: list,
}


def _tag(value: Any) -> Any:
    tagger = _TAGGERS.get(type(value))  # exact types: a per-field dict lookup on the hot path of every save
    return value if tagger is None else tagger(value)


_DECODERS: dict[str, Callable[[str], Any]] = {
    "uuid_hex": UUID,
    "datetime_iso": datetime.fromisoformat,
    "decimal_str": Decimal,
}


def _untag(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 2 and "_type_" in value and "_data_" in value:
        decoder = _DECODERS.get(value["_type_"])
        if decoder is not None:
            return decoder(value["_data_"])
    return value


class OrjsonTranscoder(Transcoder):
    """Encodes event state with orjson, tagging UUID/datetime/Decimal at the top level."""

    def encode(self, obj: Any) -> bytes:
        taggers = _TAGGERS
        out = {
            key: (value if type(value) not in taggers else taggers[type(value)](value)) for key, value in obj.items()
        }
        state = out.get("state")
        if isinstance(state, dict):
            out["state"] = {key: _tag(value) for key, value in state.items()}
        return orjson.dumps(out)

    def decode(self, data: bytes) -> Any:
        obj = orjson.loads(data)
        out = {key: _untag(value) if type(value) is dict else value for key, value in obj.items()}
        state = out.get("state")
        if isinstance(state, dict):
            out["state"] = {key: _untag(value) if type(value) is dict else value for key, value in state.items()}
        return out
