"""Fuzzed scorer configs and experiment definitions (issue 9): a result or a clear error, never a crash, and a
refused definition writes nothing.

Scorer configs: every built-in scorer with its own config keys (and stray ones) holding any JSON value. Accepted:
the config is kept exactly and the scorer (judges aside: they need an LLM) scores any output without an error of
its own. Experiment definitions: REST create bodies with fuzzed scorers and config: 201 and the definition reads
back exactly, or a 4xx problem body naming the field, with no new event.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.scoring import BUILTINS, ScorerInput, parse_scorer_spec, run_scorer
from tests.reliability.conftest import fuzz_settings, problem
from tests.reliability.strategies import objects, text, values

JUDGES = {"llm_judge", "correctness", "faithfulness", "goal_success", "agent_judge"}  # they call an LLM
TOOLS = ["search_orders", "refund", "a"]
plausible = (
    values
    | st.sampled_from(["a", "(?i)order", "[", "", "exact", "in_order", "any_order", "search_orders"])
    | st.lists(st.sampled_from(TOOLS), max_size=3)
    | st.integers(-3, 5)
    | st.floats(-1, 2)
    | st.lists(st.fixed_dictionaries({"expr": st.sampled_from(["output.answer", "len(output) > 0", "(", "1 +"])}),
               max_size=2)
)  # fmt: skip


@st.composite
def scorer_specs(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A built-in scorer's name and a config of its own keys (sometimes with a stray key)."""
    name = draw(st.sampled_from(sorted(BUILTINS)))
    keys = sorted(BUILTINS[name].config_schema)
    chosen = draw(st.lists(st.sampled_from(keys), unique=True)) if keys else []
    config = {key: draw(plausible) for key in chosen}
    if draw(st.integers(0, 4)) == 0:
        config[draw(text)] = draw(values)
    return name, config


events = st.lists(
    st.fixed_dictionaries({"type": st.sampled_from(["tool.call.started", "tool.call.completed", "llm.call.completed"]),
                           "tool_name": st.sampled_from(TOOLS)}, optional={"data": objects}),
    max_size=3,
)  # fmt: skip


@fuzz_settings(60)
@given(spec=scorer_specs(), output=values, expected=values, trace=events)
def test_a_builtin_scorer_config_is_kept_exactly_or_refused_naming_the_field(spec, output, expected, trace):
    name, config = spec
    try:
        parsed = parse_scorer_spec(json.dumps({"name": name, "config": config}), "scorers[0]")
    except Invalid as exc:
        assert exc.field is not None and exc.field.startswith("scorers[0]") and exc.message
        return
    assert (parsed["name"], parsed["config"]) == (name, config)
    if name in JUDGES:
        return
    result = run_scorer(parsed, ScorerInput(output=output, expected_output=expected, config=config, events=trace))
    assert 0.0 <= result.score <= 1.0
    assert not (result.errored and result.label == "error"), (name, config, result.explanation)  # a scorer bug


@fuzz_settings(15)
@given(
    spec=scorer_specs(),
    config=st.dictionaries(
        st.sampled_from(["passed_threshold", "concurrency", "timeout_s", "repetitions", "other"]), values, max_size=3
    ),
)
def test_an_experiment_definition_reads_back_exactly_or_is_refused_naming_the_field(services, client, world, spec,
                                                                                    config):  # fmt: skip
    name, scorer_config = spec
    body = {"name": "fuzzed", "dataset_id": str(world["dataset"]), "dataset_version_id": str(world["version"]),
            "target_type": "component", "deployment_id": str(world["good"]), "component_name": "support_agent",
            "component_type": "agent", "scorers": [{"name": name, "config": scorer_config}],
            "config": config}  # fmt: skip
    before = services.app.recorder.max_notification_id()
    response = client.post("/api/v1/experiments", json=body)
    assert response.status_code != 500, response.text
    if response.status_code == 201:
        created = client.get(f"/api/v1/experiments/{response.json()['id']}").json()
        [scorer] = created["definition"]["scorers"]
        assert (scorer["name"], scorer["config"], created["definition"]["config"]) == (name, scorer_config, config)
        return
    refused = problem(response, response.status_code)
    assert 400 <= response.status_code < 500 and refused["field"]
    assert services.app.recorder.max_notification_id() == before
