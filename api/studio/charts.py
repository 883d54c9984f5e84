"""Charts as inline SVG: bars (a histogram or a distribution) and a line (a trend), built from numbers the caller
has already aggregated (a projection or a ``GROUP BY``: a chart never reads a run's items).

Every label is escaped; the numbers are formatted here. Each chart has a ``<title>`` per mark, so hovering shows
the exact value, and ``role="img"`` with an ``aria-label``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 560, 180, 40, 34, 10


@dataclass(frozen=True)
class Bar:
    label: str  # under the bar (escaped)
    value: float
    kind: str = ""  # a CSS class: "pass", "fail" or "" (the accent colour)
    title: str = ""  # the tooltip; the label and value when empty


@dataclass(frozen=True)
class Point:
    label: str  # the x label (escaped), e.g. a run's name
    value: float | None  # None: no value (a run that has none), drawn as a gap
    kind: str = ""  # the dot's CSS class
    href: str = ""  # a link for the dot (a run's page)
    title: str = ""


def _num(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def bars(items: Sequence[Bar], label: str, y_max: float | None = None, y_format: str = "count") -> Markup:
    """A bar chart of ``items`` left to right; ``y_max`` defaults to the largest value."""
    top = max([y_max or 0.0, *(bar.value for bar in items)]) or 1.0
    inner_w, inner_h = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_BOTTOM - PAD_TOP
    slot = inner_w / max(len(items), 1)
    parts = [_frame(label, top, y_format)]
    every = max(1, len(items) // 12)  # at most about 12 x labels
    for i, bar in enumerate(items):
        h = inner_h * (bar.value / top) if top else 0.0
        x = PAD_LEFT + i * slot + slot * 0.1
        y = PAD_TOP + inner_h - h
        tip = bar.title or f"{bar.label}: {_num(bar.value)}"
        parts.append(
            f'<rect class="bar {escape(bar.kind)}" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.8:.1f}" '
            f'height="{max(h, 0.0):.1f}"><title>{escape(tip)}</title></rect>'
        )
        if i % every == 0:
            parts.append(
                f'<text x="{x + slot * 0.4:.1f}" y="{HEIGHT - PAD_BOTTOM + 14}" text-anchor="middle">'
                f"{escape(bar.label)}</text>"
            )
    return _svg(label, parts)


def line(points: Sequence[Point], label: str, y_max: float = 1.0, y_format: str = "percent") -> Markup:
    """A line through ``points`` left to right (a gap where a value is None), with a dot per point."""
    inner_w, inner_h = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_BOTTOM - PAD_TOP
    step = inner_w / max(len(points) - 1, 1)
    parts = [_frame(label, y_max, y_format)]
    path: list[str] = []
    every = max(1, len(points) // 10)
    for i, point in enumerate(points):
        x = PAD_LEFT + (i * step if len(points) > 1 else inner_w / 2)
        if point.value is None:
            if len(path) > 1:
                parts.append(f'<polyline class="line" points="{" ".join(path)}"/>')
            path = []
            continue
        y = PAD_TOP + inner_h - inner_h * (point.value / y_max if y_max else 0.0)
        path.append(f"{x:.1f},{y:.1f}")
        value = f"{point.value * 100:.1f}%" if y_format == "percent" else _num(point.value)
        tip = escape(point.title or f"{point.label}: {value}")
        dot = f'<circle class="dot {escape(point.kind)}" cx="{x:.1f}" cy="{y:.1f}" r="4"><title>{tip}</title></circle>'
        parts.append(f'<a href="{escape(point.href)}">{dot}</a>' if point.href else dot)
        if i % every == 0:
            short = escape(point.label[:14])
            parts.append(f'<text x="{x:.1f}" y="{HEIGHT - PAD_BOTTOM + 14}" text-anchor="middle">{short}</text>')
    if len(path) > 1:
        parts.insert(1, f'<polyline class="line" points="{" ".join(path)}"/>')
    return _svg(label, parts)


def _frame(label: str, top: float, y_format: str) -> str:
    inner_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    ticks = []
    for fraction in (0.0, 0.5, 1.0):
        y = PAD_TOP + inner_h - inner_h * fraction
        value = top * fraction
        text = f"{value * 100:.0f}%" if y_format == "percent" else _num(round(value, 3))
        ticks.append(
            f'<line class="axis" x1="{PAD_LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text x="{PAD_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{escape(text)}</text>'
        )
    return "".join(ticks)


def _svg(label: str, parts: list[str]) -> Markup:
    body = "".join(parts)
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">{body}</svg>'
    )
