"""LLM-as-judge built-ins: prompt assembly and response parsing (pure); the call itself is injected.

``ScorerInput.llm`` is a callable taking an OpenAI chat-completions request (a dict) and returning the response
(a dict); the runner provides one over HTTP. Every request and response is kept in the score's evidence, so a
replay needs no network. A judge that cannot be reached, times out or answers garbage gives an *errored* score.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agnt5_evals.domain.scoring.base import ScoreResult, ScorerInput, builtin, config_error
from agnt5_evals.domain.scoring.judge_prompts import (
    AGENT_JUDGE_CRITERIA,
    AGENT_JUDGE_SYSTEM,
    CORRECTNESS_CRITERIA,
    DEFAULT_SYSTEM,
    FAITHFULNESS_CRITERIA,
    GOAL_SUCCESS_CRITERIA,
    PRESET_SYSTEM,
)
from agnt5_evals.domain.trace import trace_eval_context

PASS_AT = 0.7
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.\-\[\]]*)\s*\}\}")


class JudgeCallError(Exception):
    """Raised by an LLM client: ``kind`` is provider_error, timeout_error or auth_error."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def render(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def select(roots: dict[str, Any], selector: str) -> Any:
    """Resolve ``root.path.0.key``; raise KeyError naming the selector when absent."""
    parts = [p for p in re.split(r"[.\[\]]", selector) if p]
    if not parts or parts[0] not in roots:
        raise KeyError(selector)
    value = roots[parts[0]]
    for part in parts[1:]:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isascii() and part.isdecimal() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise KeyError(selector)
    return value


def user_prompt(criteria: str, inp: ScorerInput, config: dict[str, Any], context: Any = None) -> str:
    """The judge's user message: criteria, input, context, output, reference, then the answer format."""
    output, expected = inp.output, inp.expected_output
    template = config.get("prompt_template")
    if isinstance(template, str) and template:
        roots = {"input": inp.input, "output": output, "expected": expected, "context": context,
                 "metadata": config.get("metadata") or {}, "tags": config.get("tags") or []}  # fmt: skip
        text = _PLACEHOLDER.sub(lambda m: render(select(roots, m.group(1))), template)
        sections = [text] if "output" in template else [text, f"## Output to Evaluate\n{render(output)}"]
    else:
        sections = [f"## Evaluation Criteria\n{criteria}"]
        if config.get("include_input") and inp.input is not None:
            sections.append(f"## Input\n{render(inp.input)}")
        if context is not None:
            sections.append(f"## Context\n{render(context)}")
        sections.append(f"## Output to Evaluate\n{render(output)}")
        if expected is not None:
            sections.append(f"## Expected Output (Reference)\n{render(expected)}")
    choices = config.get("choice_scores")
    if isinstance(choices, dict) and choices:
        sections.append("Choose exactly one label from: " + ", ".join(sorted(choices)) + ".")
    if config.get("use_cot"):
        sections.append("Think step by step before deciding, and put your reasoning in the explanation.")
    if isinstance(config.get("output_schema"), dict):
        sections.append(f"The JSON object must match this schema:\n{render(config['output_schema'])}")
    sections.append("Respond with a single JSON object.")
    return "\n\n".join(sections)


def parse_verdict(text: str) -> dict[str, Any] | None:
    """The JSON object in a judge's answer (fenced or between the first ``{`` and the last ``}``)."""
    body = text.strip()
    if body.startswith("```"):
        body = body.split("\n", 1)[1] if "\n" in body else ""
        body = body.rsplit("```", 1)[0]
    elif "{" in body and "}" in body:
        body = body[body.index("{") : body.rindex("}") + 1]
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def verdict_result(verdict: dict[str, Any], extra: dict[str, Any]) -> ScoreResult:
    raw = verdict.get("score", 0)
    score = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else 0.0
    score = min(1.0, max(0.0, score))
    passed = verdict["passed"] if isinstance(verdict.get("passed"), bool) else score >= PASS_AT
    metadata = {k: v for k, v in verdict.items() if k not in ("score", "passed", "label", "explanation")}
    if isinstance(verdict.get("metadata"), dict):
        metadata.update(verdict["metadata"])
    label = verdict.get("label") if isinstance(verdict.get("label"), str) else None
    explanation = verdict.get("explanation") if isinstance(verdict.get("explanation"), str) else None
    return ScoreResult(score, passed, label, explanation, {**metadata, **extra})


def apply_choices(result: ScoreResult, choices: dict[str, Any]) -> ScoreResult:
    """Map the judge's label through ``choice_scores`` (or infer the label from a unique score)."""
    label = result.label
    if label is None:
        matches = [name for name, value in choices.items() if value == result.score]
        label = matches[0] if len(matches) == 1 else None
    meta = dict(result.metadata or {})
    if label not in choices:
        meta.update(allowed_labels=sorted(choices), invalid_label=label)
        return ScoreResult(0.0, False, "invalid_label", result.explanation, meta)
    score = min(1.0, max(0.0, float(choices[label])))
    meta.update(choice_scores=choices, selected_label=label)
    return ScoreResult(score, score >= PASS_AT, label, result.explanation, meta)


def _model(config: dict[str, Any]) -> str:
    model = str(config.get("model") or "gpt-4o-mini")
    return model.split("/", 1)[1] if "/" in model else model  # the endpoint takes the bare model name


def judge(inp: ScorerInput, criteria: str, config: dict[str, Any], *, system: str = DEFAULT_SYSTEM,
          context: Any = None, extra: dict[str, Any] | None = None) -> ScoreResult:  # fmt: skip
    """Ask the judge once and turn its answer into a score, keeping request and response as evidence."""
    try:
        prompt = user_prompt(criteria, inp, config, context)
    except KeyError as exc:
        return config_error(f"prompt_template variable not found: {exc.args[0]}")
    request = {
        "model": _model(config),
        "messages": [{"role": "system", "content": str(config.get("system_prompt") or system)},
                     {"role": "user", "content": prompt}],
        "temperature": config.get("temperature", 0.0),
    }  # fmt: skip
    if inp.llm is None:
        return ScoreResult(0.0, False, "provider_error", "LLM call failed: no judge endpoint is configured "
                           "(set AGNT5_LLM_BASE_URL)", errored=True, evidence={"judge_request": request})  # fmt: skip
    try:
        response = inp.llm(request)
    except JudgeCallError as exc:
        return ScoreResult(0.0, False, exc.kind, f"LLM call failed: {exc}", errored=True,
                           evidence={"judge_request": request})  # fmt: skip
    evidence = {"judge_request": request, "judge_response": response}
    try:
        text = str(response["choices"][0]["message"]["content"])
    except (KeyError, IndexError, TypeError):
        return ScoreResult(0.0, False, "parse_error", f"Could not parse LLM response: {json.dumps(response)[:500]}",
                           errored=True, evidence=evidence)  # fmt: skip
    verdict = parse_verdict(text)
    if verdict is None:
        return ScoreResult(0.0, False, "parse_error", f"Could not parse LLM response: {text[:500]}", errored=True,
                           evidence=evidence)  # fmt: skip
    result = verdict_result(verdict, extra or {})
    choices = config.get("choice_scores")
    if isinstance(choices, dict) and choices:
        result = apply_choices(result, choices)
    return ScoreResult(result.score, result.passed, result.label, result.explanation, result.metadata,
                       evidence=evidence)  # fmt: skip


def _check_common(name: str, config: dict[str, Any]) -> str | None:
    choices = config.get("choice_scores")
    if choices is not None and (
        not isinstance(choices, dict)
        or not all(isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1 for v in choices.values())
    ):
        return f"{name}: config.choice_scores must map labels to numbers in [0, 1]"
    temperature = config.get("temperature", 0.0)
    if isinstance(temperature, bool) or not isinstance(temperature, int | float):
        return f"{name}: config.temperature must be a number"
    return None


def _check_llm_judge(config: dict[str, Any]) -> str | None:
    if not config.get("criteria") and not config.get("prompt_template"):
        return "llm_judge requires criteria or prompt_template"
    return _check_common("llm_judge", config)


@builtin("llm_judge", kind="judge", description="A model grades the output against your criteria.",
         requires_config=True, check_config=_check_llm_judge,
         config_schema={"criteria": "string (or prompt_template)", "model": "string (gpt-4o-mini)",
                        "temperature": "number (0)", "include_input": "bool (false)", "choice_scores": "object",
                        "system_prompt": "string", "use_cot": "bool", "output_schema": "object"})  # fmt: skip
def llm_judge(inp: ScorerInput) -> ScoreResult:
    problem = _check_llm_judge(inp.config)
    if problem:
        return config_error(problem)
    context = inp.config.get("context_data", inp.config.get("context"))
    return judge(inp, str(inp.config.get("criteria") or ""), inp.config, context=context)


def _fields(inp: ScorerInput, config: dict[str, Any], name: str, keys: tuple[str, ...]) -> dict[str, Any] | str:
    roots = {"input": inp.input, "output": inp.output, "expected": inp.expected_output}
    out: dict[str, Any] = {}
    for key in keys:
        selector = config.get(key)
        if selector:
            try:
                out[key] = select(roots, str(selector))
            except KeyError:
                return f"{name} field selector not found: {selector}"
    return out


@builtin("correctness", kind="judge", description="Is the answer correct (against the reference when given)?",
         check_config=lambda c: _check_common("correctness", c),
         config_schema={"model": "string", "include_input": "bool (true)", "answer_field": "selector",
                        "reference_field": "selector"})  # fmt: skip
def correctness(inp: ScorerInput) -> ScoreResult:
    config = {"include_input": True, **inp.config}
    picked = _fields(inp, config, "correctness", ("answer_field", "reference_field"))
    if isinstance(picked, str):
        return config_error(picked)
    view = ScorerInput(output=picked.get("answer_field", inp.output),
                       expected_output=picked.get("reference_field", inp.expected_output),
                       input=inp.input, config=config, llm=inp.llm)  # fmt: skip
    return judge(view, CORRECTNESS_CRITERIA, config, system=PRESET_SYSTEM, extra={"judge_preset": "correctness"})


def _context_fields(config: dict[str, Any]) -> list[str]:
    fields = list(config.get("context_fields") or [])
    if config.get("context_field"):
        fields.append(str(config["context_field"]))
    return [str(f) for f in fields]


def _check_faithfulness(config: dict[str, Any]) -> str | None:
    fields = _context_fields(config)
    if not fields:
        return "faithfulness requires config.context_fields or config.context_field"
    bad = [f for f in fields if f.split(".")[0] not in ("input", "output", "expected") or "." not in f]
    if bad:
        return f"faithfulness: context field {bad[0]!r} needs a root (input/output/expected) and a path"
    return _check_common("faithfulness", config)


@builtin("faithfulness", kind="judge", description="Is every claim of the output supported by the context?",
         requires_config=True, check_config=_check_faithfulness,
         config_schema={"context_fields": "list of selectors (required)", "answer_field": "selector"})  # fmt: skip
def faithfulness(inp: ScorerInput) -> ScoreResult:
    problem = _check_faithfulness(inp.config)
    if problem:
        return config_error(problem)
    roots = {"input": inp.input, "output": inp.output, "expected": inp.expected_output}
    try:
        context = {f: select(roots, f) for f in _context_fields(inp.config)}
    except KeyError as exc:
        return config_error(f"faithfulness field selector not found: {exc.args[0]}")
    extra = {"judge_preset": "faithfulness", "context_fields": _context_fields(inp.config)}
    return judge(inp, FAITHFULNESS_CRITERIA, inp.config, system=PRESET_SYSTEM, context=context, extra=extra)


def _trace_evidence(inp: ScorerInput, include_trace: bool) -> dict[str, Any]:
    given = inp.metadata.get("trace_eval_context")
    ctx = given if isinstance(given, dict) else trace_eval_context(
        inp.events, session_id=str(inp.metadata.get("run_item_id") or "local"),
        root_run_id=str(inp.metadata.get("run_id") or "local"))  # fmt: skip
    evidence: dict[str, Any] = {"trace_eval_context": ctx}
    if include_trace:
        evidence["trace"] = inp.events
    context = inp.config.get("context_data", inp.config.get("context"))
    if context is not None:
        evidence["provided_context"] = context
    return evidence


@builtin("goal_success", kind="judge", description="Did the agent achieve the user's goal (judged on its trace)?",
         check_config=lambda c: _check_common("goal_success", c),
         config_schema={"include_input": "bool (true)", "include_trace": "bool (true)", "model": "string"})  # fmt: skip
def goal_success(inp: ScorerInput) -> ScoreResult:
    config = {"include_input": True, **inp.config}
    evidence = _trace_evidence(inp, bool(config.get("include_trace", True)))
    extra = {"judge_preset": "goal_success", "evidence_sources": sorted(evidence)}
    return judge(inp, GOAL_SUCCESS_CRITERIA, config, system=PRESET_SYSTEM,
                 context={"goal_success_evidence": evidence}, extra=extra)  # fmt: skip


@builtin("agent_judge", kind="judge", description="A model inspects the agent's evidence (trace, tool calls).",
         requires_config=True, check_config=lambda c: _check_common("agent_judge", c),
         config_schema={"model": "string (required)", "criteria": "string", "max_evidence_chars": "int (20000)",
                        "include_trace": "bool (false)", "include_trace_eval_context": "bool (true)"})  # fmt: skip
def agent_judge(inp: ScorerInput) -> ScoreResult:
    config = inp.config
    evidence = _trace_evidence(inp, bool(config.get("include_trace", False)))
    if not config.get("include_trace_eval_context", True):
        evidence.pop("trace_eval_context")
    if config.get("include_tool_calls", True):
        steps = trace_eval_context(inp.events, session_id="local", root_run_id="local")["execution_steps"]
        evidence["tool_calls"] = [s for s in steps if s["kind"] == "tool_call"]
    limit = min(200_000, max(1000, int(config.get("max_evidence_chars", 20_000))))
    text = json.dumps(evidence, sort_keys=True)
    context: Any = {"agent_judge_evidence": evidence}
    if len(text) > limit:
        context = {"agent_judge_evidence": {"truncated": True, "max_chars": limit, "evidence_excerpt": text[:limit]}}
    extra = {"judge_preset": "agent_judge", "judge_mode": "evidence_inspection",
             "agent_judge_version": "evidence_inspection_v1", "evidence_sources": sorted(evidence)}  # fmt: skip
    criteria = str(config.get("criteria") or AGENT_JUDGE_CRITERIA)
    return judge(inp, criteria, config, system=AGENT_JUDGE_SYSTEM, context=context, extra=extra)
