"""The JUnit XML export of a run: one ``<testsuite>`` per run, one ``<testcase>`` per run item and repetition.

A failed item (a scorer did not pass it) carries a ``<failure type="scorers">`` naming each failing scorer with its
label and explanation; an errored item (the target raised) an ``<error type="target">`` with the error and stack
instead; CI tools count the two apart. Every value goes through ElementTree (escaped) after the characters XML 1.0
cannot hold are dropped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from agnt5_evals.domain.exports import RunExport, excerpt, item_verdicts, text_of

ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
EXCERPT = 2000  # characters of input, expected and output in a failure's text


def xml_text(value: Any) -> str:
    """``value`` as text XML 1.0 can hold (control characters but tab and line breaks dropped)."""
    return ILLEGAL_XML.sub("", text_of(value))


def to_junit(export: RunExport) -> bytes:
    """The run as a JUnit ``<testsuites>`` document (UTF-8, with an XML declaration)."""
    summary, records = export.summary, export.records
    name = f"{export.experiment_name}/{summary['name']}"
    seconds = sum(float(r["duration_ms"] or 0) for r in records) / 1000
    counts = {"tests": len(records), "failures": sum(r["status"] == "failed" for r in records),
              "errors": sum(r["status"] == "errored" for r in records)}  # fmt: skip
    root = ET.Element("testsuites", _attrs(name=name, time=f"{seconds:.3f}", **counts))
    suite = ET.SubElement(root, "testsuite", _attrs(name=name, id=summary["id"], time=f"{seconds:.3f}", **counts))
    properties = ET.SubElement(suite, "properties")
    for key in ("id", "status", "pass_rate", "passed"):
        ET.SubElement(properties, "property", _attrs(name=f"run.{key}", value=summary[key]))
    for record in records:
        _testcase(suite, export, record)
    ET.indent(root)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body + b"\n"


def _attrs(**values: Any) -> dict[str, str]:
    return {key: xml_text(value if isinstance(value, str) else str(value)) for key, value in values.items()}


def _testcase(suite: ET.Element, export: RunExport, record: Mapping[str, Any]) -> None:
    seconds = float(record["duration_ms"] or 0) / 1000
    case = ET.SubElement(suite, "testcase", _attrs(
        classname=export.experiment_name, name=f"{record['dataset_item_id']}#{record['repetition']}",
        time=f"{seconds:.3f}",
    ))  # fmt: skip
    if record["status"] == "errored":
        error = text_of(record["error"])
        stack = export.stacks.get(record["run_item_id"], "")
        element = ET.SubElement(case, "error", _attrs(message=error.splitlines()[0] if error else "", type="target"))
        element.text = xml_text("\n\n".join(part for part in (error, stack) if part))
    elif record["status"] == "failed":
        failing = item_verdicts(record, export.scorers)
        message = "; ".join(
            f"{key}: {text_of(label) or 'failed'}" + (f" ({text_of(why)})" if why else "")
            for key, label, why in failing
        )
        element = ET.SubElement(case, "failure", _attrs(message=message or "failed", type="scorers"))
        element.text = xml_text(_evidence(record))


def _evidence(record: Mapping[str, Any]) -> str:
    return "\n".join(
        f"{label}: {excerpt(record[key], EXCERPT)}"
        for label, key in (("input", "input"), ("expected", "expected_output"), ("output", "output"))
    )
