"""Diffs of two values as HTML: what changed between an item's expected output and its output, or between two
runs' outputs of one item.

Two short single-line strings are compared word by word (a changed single word character by character); anything
else is compared line by line as pretty JSON (keys sorted, so an order change is no change). Removed text is in
``<del>``, added text in ``<ins>``; a whole removed or added line has the class ``line-del`` / ``line-add``.
Every piece of text is escaped with :func:`markupsafe.escape` before it is joined into the markup.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

import orjson
from markupsafe import Markup, escape

SHORT = 300  # a string of at most this many characters, on one line, gets a word diff
MAX_LINES = 4000  # more lines than this on either side: no diff (difflib is quadratic at worst)
MAX_CHARS = 400_000
TOKENS = re.compile(r"\w+|\s+|[^\w\s]", re.UNICODE)


@dataclass(frozen=True)
class Diff:
    """A diff ready to print: ``html`` (escaped pieces in ``<ins>``/``<del>``), whether anything ``changed``, and
    the ``kind`` of comparison (``words``, ``lines``, or ``too_large`` with no html)."""

    html: Markup
    changed: bool
    kind: str


def pretty(value: Any) -> str:
    """A value as the diff compares it: indented JSON with sorted keys (a string is its JSON form, quoted)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):
        return repr(value)


def _short_line(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= SHORT and "\n" not in value and "\r" not in value


def diff_values(before: Any, after: Any) -> Diff:
    """``before`` (an expected output, a base run's output) against ``after``."""
    if _short_line(before) and _short_line(after):
        return Diff(_word_diff(str(before), str(after)), before != after, "words")
    return diff_texts(pretty(before), pretty(after))


def diff_texts(before: str, after: str) -> Diff:
    """A line diff of two texts; a line replaced by a similar line also marks the words that changed in it."""
    if before == after:
        return Diff(Markup("").join(_line(line, "") for line in before.splitlines()), False, "lines")
    a, b = before.splitlines(), after.splitlines()
    if max(len(a), len(b)) > MAX_LINES or max(len(before), len(after)) > MAX_CHARS:
        return Diff(Markup(""), True, "too_large")
    parts: list[Markup] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            parts.extend(_line(line, "") for line in a[i1:i2])
        elif op == "replace":
            parts.extend(_replaced(a[i1:i2], b[j1:j2]))
        else:
            parts.extend(_line(line, "del") for line in a[i1:i2])
            parts.extend(_line(line, "ins") for line in b[j1:j2])
    return Diff(Markup("").join(parts), True, "lines")


def _replaced(old_lines: list[str], new_lines: list[str]) -> list[Markup]:
    """Lines replaced by others: a pair of similar lines (same place in the block) shows its changed words; the
    other lines are removed or added whole."""
    parts: list[Markup] = []
    pairs = min(len(old_lines), len(new_lines))
    for old, new in zip(old_lines[:pairs], new_lines[:pairs], strict=True):
        if _similar(old, new):
            removed, added = _word_sides(old, new)
            parts.append(Markup('<span class="line-del">{}</span>').format(escape(removed)))
            parts.append(Markup('<span class="line-add">{}</span>').format(escape(added)))
        else:
            parts.extend((_line(old, "del"), _line(new, "ins")))
    parts.extend(_line(line, "del") for line in old_lines[pairs:])
    parts.extend(_line(line, "ins") for line in new_lines[pairs:])
    return parts


def _line(text: str, kind: str) -> Markup:
    if kind == "del":
        return Markup('<del class="line-del">{}</del>').format(escape(text or " "))
    if kind == "ins":
        return Markup('<ins class="line-add">{}</ins>').format(escape(text or " "))
    return Markup("{}\n").format(escape(text))


def _word_diff(before: str, after: str) -> Markup:
    """One run of text: kept words plain, removed ones in ``<del>``, added ones in ``<ins>``."""
    parts: list[Markup] = []
    for op, old, new in _token_ops(before, after):
        if op == "equal":
            parts.append(escape(old))
            continue
        if old:
            parts.append(Markup("<del>{}</del>").format(escape(old)))
        if new:
            parts.append(Markup("<ins>{}</ins>").format(escape(new)))
    return Markup("").join(parts)


def _word_sides(before: str, after: str) -> tuple[Markup, Markup]:
    """A replaced line's two sides: the old line with its removed words in ``<del>``, the new one with its added
    words in ``<ins>``."""
    old_parts: list[Markup] = []
    new_parts: list[Markup] = []
    for op, old, new in _token_ops(before, after):
        if op == "equal":
            old_parts.append(escape(old))
            new_parts.append(escape(new))
            continue
        if old:
            old_parts.append(Markup("<del>{}</del>").format(escape(old)))
        if new:
            new_parts.append(Markup("<ins>{}</ins>").format(escape(new)))
    return Markup("").join(old_parts), Markup("").join(new_parts)


def _token_ops(before: str, after: str) -> list[tuple[str, str, str]]:
    """``(op, old text, new text)`` over word tokens; a single word replaced by a single word is refined to its
    characters (``color`` → ``colour`` marks the ``u`` alone)."""
    a, b = TOKENS.findall(before), TOKENS.findall(after)
    out: list[tuple[str, str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        old, new = "".join(a[i1:i2]), "".join(b[j1:j2])
        if op == "replace" and i2 - i1 == 1 and j2 - j1 == 1 and _similar(old, new):
            out.extend(_char_ops(old, new))
        else:
            out.append((op, old, new))
    return out


def _similar(old: str, new: str) -> bool:
    return difflib.SequenceMatcher(None, old, new, autojunk=False).ratio() >= 0.5


def _char_ops(old: str, new: str) -> list[tuple[str, str, str]]:
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    return [("equal" if op == "equal" else op, old[i1:i2], new[j1:j2]) for op, i1, i2, j1, j2 in matcher.get_opcodes()]
