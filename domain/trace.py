"""Trace events (the reference's raw event shape) and the trace_eval_context derived from them.

A run item records raw events; trace scorers read a ``agnt5.eval.trace_eval_context.v1`` artifact. The
reference does not publish how the platform derives one from the other, so this module decides
(documented in docs/architecture.md): tool steps come from ``tool.*`` events merged by call id, LLM steps
from ``lm.call.*`` and ``lm.*`` events, error steps from any other ``*.failed`` event.
"""

from __future__ import annotations

from typing import Any

SCHEMA = "agnt5.eval.trace_eval_context.v1"


def _event_type(event: dict[str, Any]) -> str:
    return str(event.get("event_type") or event.get("eventType") or "")


def _ms(event: dict[str, Any]) -> int:
    ns = event.get("timestamp_ns") or event.get("timestampNs") or 0
    return int(ns) // 1_000_000 if isinstance(ns, int | float) else 0


def _tool_step(event: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "tool_call",
        "tool_name": str(data.get("tool_name") or event.get("name") or "").strip(),
        "name": event.get("name") or data.get("tool_name") or "",
        "status": "started",
        "started_at": _ms(event),
        "ended_at": 0,
        "duration_ms": 0,
        "error_code": "",
        "span_id": data.get("tool_call_id") or event.get("correlation_id") or "",
    }


def _merge_tool_event(step: dict[str, Any], event: dict[str, Any], data: dict[str, Any]) -> None:
    kind = _event_type(event)
    if kind.endswith(".completed"):
        step["status"] = "completed"
        step["ended_at"] = _ms(event)
    elif kind.endswith(".failed"):
        step["status"] = "failed"
        step["ended_at"] = _ms(event)
        step["error_code"] = str(data.get("error_code") or "tool_failed")
        step["error_safe"] = str(data.get("error") or "")[:200]
    if isinstance(data.get("status"), str):
        step["status"] = data["status"]
    if isinstance(data.get("duration_ms"), int | float):
        step["duration_ms"] = data["duration_ms"]
    elif step["ended_at"] and step["started_at"]:
        step["duration_ms"] = step["ended_at"] - step["started_at"]


def _is_llm(kind: str) -> bool:
    return kind.startswith(("lm.call.", "lm.")) and kind.rsplit(".", 1)[-1] in ("completed", "failed")


def execution_steps(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Turn raw events into ordered execution steps, indexed from 1."""
    steps: list[dict[str, Any]] = []
    tools: dict[str, dict[str, Any]] = {}
    for position, event in enumerate(events):
        if not isinstance(event, dict):
            continue
        kind = _event_type(event)
        data = event.get("data") if isinstance(event.get("data"), dict) else {}
        assert isinstance(data, dict)
        if kind.startswith("tool."):
            key = str(data.get("tool_call_id") or event.get("correlation_id") or f"event-{position}")
            if key not in tools:
                tools[key] = _tool_step(event, data)
                steps.append(tools[key])
            _merge_tool_event(tools[key], event, data)
        elif _is_llm(kind):
            failed = kind.endswith(".failed")
            steps.append(
                {
                    "kind": "llm_call",
                    "name": event.get("name") or "",
                    "model": str(data.get("model") or ""),
                    "role": str(data.get("role") or ""),
                    "tokens": int(data.get("total_tokens") or 0),
                    "status": "failed" if failed else "completed",
                    "error_code": "llm_failed" if failed else "",
                    "started_at": _ms(event),
                    "ended_at": _ms(event),
                }
            )
        elif kind.endswith(".failed"):
            steps.append(
                {
                    "kind": "error",
                    "name": event.get("name") or kind,
                    "status": "failed",
                    "error_code": str(data.get("error_code") or kind),
                    "error_safe": str(data.get("error") or "")[:200],
                    "started_at": _ms(event),
                    "ended_at": _ms(event),
                }
            )
    for index, step in enumerate(steps, start=1):
        step["index"] = index
    return steps


def trace_eval_context(events: list[dict[str, Any]], *, session_id: str, root_run_id: str) -> dict[str, Any]:
    """Derive the trace_eval_context v1 artifact for one run item from its raw events."""
    steps = execution_steps(events)
    tool_names = [s["tool_name"] for s in steps if s["kind"] == "tool_call" and s["tool_name"]]
    llm = [s for s in steps if s["kind"] == "llm_call"]
    errors = [s for s in steps if s["kind"] == "error" or s.get("error_code") or s.get("status") == "failed"]
    return {
        "schema_version": SCHEMA,
        "project_id": "local",
        "session_id": session_id,
        "root_run_id": root_run_id,
        "execution_steps": steps,
        "features": {
            "execution_step_count": len(steps),
            "tool_call_count": len(tool_names),
            "unique_tool_call_count": len(set(tool_names)),
            "llm_call_count": len(llm),
            "total_tokens": sum(s["tokens"] for s in llm),
            "error_count": len(errors),
        },
        "evidence_refs": {},
    }
