"""Secrets are never stored: a provider echoing the API key in a 401 body leaves no trace of it in the log."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any
from uuid import UUID

import orjson
from hypothesis import given
from hypothesis import strategies as st

from agnt5_evals.adapters.secrets import known_secrets
from agnt5_evals.domain.redaction import REDACTED, redact, redact_encoded, usable
from agnt5_evals.projections import queries
from tests.fakes.llm_server import FakeLLM
from tests.support import execute

KEY = "sk-live-7f3a9c1e5b2d4f60"
AGENT = """
from agnt5_evals import component


@component("answerer", type="function")
def answerer(input):
    return {"answer": f"Order {input['order_id']} is shipped"}
"""


def stored_bytes(services) -> bytes:
    """Every stored event's state, concatenated (the whole immutable log)."""
    notifications = services.app.recorder.select_notifications(start=1, limit=100_000)
    return b"\n".join(bytes(n.state) + n.topic.encode() for n in notifications)


def experiment(services, tmp_path, source: str, component: str, scorer: dict[str, Any]) -> Any:
    """An experiment running ``component`` of ``source`` over 3 items, scored by ``scorer``: its id."""
    module = f"{component}_agent"  # a module name of its own: a process imports each name once
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
    app = services.app
    ds = app.create_dataset("secrets")
    app.add_items(ds.id, [{"input": {"order_id": n}} for n in range(3)])
    version = app.publish(ds.id)
    deployment = app.create_deployment("secrets", module, str(tmp_path), [{"name": component, "type": "function"}])
    spec = {
        "dataset_id": str(ds.id), "dataset_version_id": str(version.id),
        "target": {"type": "component", "deployment_id": str(deployment.id), "component_name": component,
                   "component_type": "function"},
        "scorers": [{"type": "builtin", "key": scorer["name"], "config": {}, **scorer}], "config": {},
    }  # fmt: skip
    return app.create_experiment("secrets", "", spec).id


def test_an_echoed_api_key_is_redacted_from_the_log(services, tmp_path, monkeypatch):
    monkeypatch.setenv("AGNT5_LLM_API_KEY", KEY)
    judge = {"name": "llm_judge", "config": {"model": "judge-leaky", "criteria": "gives the order status"}}
    exp = experiment(services, tmp_path, AGENT, "answerer", judge)
    app = services.app
    with FakeLLM() as llm:
        monkeypatch.setenv("AGNT5_LLM_BASE_URL", llm.base_url)
        run_id = app.start_run(exp).id
        assert execute(services, run_id) == "completed"
        assert llm.requests and all(r["auth"] == f"Bearer {KEY}" for r in llm.requests)  # the key was sent
    log = stored_bytes(services)
    assert KEY.encode() not in log and KEY[3:].encode() not in log
    assert b"auth_error" in log and REDACTED.encode() in log
    services.catch_up()
    scores = [s for item in queries.run_items(services.view, str(run_id)) for s in item["scores"]]
    assert len(scores) == 3
    for score in scores:
        assert score["label"] == "auth_error" and REDACTED in score["explanation"]
        assert KEY not in str(score)


def test_redaction_reaches_every_string_and_the_bearer_form(monkeypatch):
    monkeypatch.setenv("AGNT5_DATABASE_URL", "postgresql://app:pa%24%24word@db/agnt5")
    monkeypatch.setenv("AGNT5_API_KEY", "api-key-123")
    assert {"pa%24%24word", "pa$$word", "api-key-123"} <= set(known_secrets())
    value = {"a": ["Bearer api-key-123", {"pa$$word": ("x pa$$word y",)}], "n": 5, "short": "ab"}
    assert redact(value, [*known_secrets(), "ab"]) == {
        "a": [f"Bearer {REDACTED}", {REDACTED: (f"x {REDACTED} y",)}],
        "n": 5,
        "short": "ab",
    }


SECRETS = ("api-key-123", 'quo"te-key', "back\\slash-key", "new\nline-key", "ünïcode-kéy", "1234567")


def test_a_record_is_searched_for_secrets_and_kept_when_none_is_there():
    """``redact_encoded`` gives what ``redact`` gives, and the value's orjson encoding; a value holding no secret
    is the value itself (no walk of its strings)."""
    secrets = usable(SECRETS)
    clean = {"output": {"answer": "shipped"}, "events": [{"data": {"n": 1}}], "n": 5}
    kept, encoded = redact_encoded(clean, secrets)  # searched as orjson writes them, escaped ones included
    assert kept is clean and encoded == orjson.dumps(clean)
    undecodable = "key-\udce9-latin1"  # what os.environ makes of a value that is not UTF-8
    assert redact_encoded(clean, usable([undecodable, *SECRETS]))[0] is clean
    assert redact({"k": undecodable}, [undecodable]) == {"k": REDACTED}
    for secret in SECRETS:  # in a value, in a key, in the Bearer form; and the escaped ones all the same
        value = {"a": [f"x {secret} y", {secret: f"Bearer {secret}"}], "n": 7}
        redacted, encoded = redact_encoded(value, secrets)
        assert redacted == redact(value, secrets) and encoded == orjson.dumps(redacted)
        assert secret not in str(redacted)
    number = {"n": 91234567, "s": "plain"}  # a secret found only in a number's digits: walked, nothing replaced
    assert redact_encoded(number, usable(["1234567"]))[0] == number


@dataclass
class Reply:
    text: str
    when: datetime


class Kind(Enum):
    KEY = "api-key-123"


def test_what_orjson_writes_of_other_types_is_redacted_too():
    """A dataclass or an enum in an output is recorded as the object or value orjson writes: a secret in it is
    replaced there too; a value of another type without a secret is kept as it is."""
    when = datetime(2026, 11, 29, tzinfo=UTC)
    value = {"r": Reply("x api-key-123 y", when), "k": Kind.KEY, "t": when, "u": UUID(int=5)}
    redacted, encoded = redact_encoded(value, usable(["api-key-123"]))
    assert b"api-key-123" not in encoded and redacted["t"] is when and redacted["u"] == UUID(int=5)
    assert redacted["r"] == {"text": f"x {REDACTED} y", "when": when.isoformat()} and redacted["k"] == REDACTED
    assert redact(value, ["api-key-123"]) == redacted


LEAKER = """
import os

from agnt5_evals import component


@component("leaker", type="function")
def leaker(input):
    return {"echo": f"the key is {os.environ['AGNT5_API_KEY']}", os.environ["AGNT5_API_KEY"]: 1}
"""


def test_a_component_returning_a_key_records_it_redacted(services, tmp_path, monkeypatch):
    """The worker's last guard, alone: nothing else redacts a component's output."""
    monkeypatch.setenv("AGNT5_API_KEY", KEY)
    run_id = services.app.start_run(experiment(services, tmp_path, LEAKER, "leaker", {"name": "json_valid"})).id
    assert execute(services, run_id) == "completed"
    assert KEY.encode() not in stored_bytes(services) and REDACTED.encode() in stored_bytes(services)
    services.catch_up()
    outputs = [item["output"] for item in queries.run_items(services.view, str(run_id))]
    assert outputs == [{"echo": f"the key is {REDACTED}", REDACTED: 1}] * 3


_CHARS = ["a", "k", "-", '"', "\\", "\n", "\x00", "\x1f", "é", "\u2028", "😀", " ", "1"]  # JSON escapes some
_TEXT = st.text(alphabet=st.sampled_from(_CHARS), max_size=12)
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | _TEXT,  # what orjson encodes
    lambda children: (
        st.lists(children, max_size=3)
        | st.lists(children, max_size=3).map(tuple)
        | st.dictionaries(_TEXT, children, max_size=3)
    ),
    max_leaves=10,
)


@given(_VALUES, st.lists(_TEXT, max_size=3))
def test_searching_the_encoding_redacts_what_walking_redacts(value, secrets):
    known = usable(secrets)
    redacted, encoded = redact_encoded(value, known)
    assert redacted == redact(value, known)
    assert encoded == orjson.dumps(redacted)
