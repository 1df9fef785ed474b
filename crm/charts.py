"""Small server-rendered SVG charts (no JavaScript, no CDN, nothing for the Content-Security-Policy
to refuse): horizontal and vertical bars, a funnel, and an area over days.

Every chart has a ``<title>`` (its accessible name, through ``aria-labelledby``), axis titles, the
value written beside each bar or point, a ``<title>`` per mark for the tooltip, and a
``data-testid``. Every label is escaped here, so a campaign called ``<script>`` stays text; the
markup is marked safe only after that. An empty list draws nothing: the caller shows an empty
state that says what to do instead of a blank frame. Colours come from the page's CSS
(``.chart-bar``, ``.chart-area`` …)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

Number = int | float | Decimal
WIDTH = 640
MIDDLE = ' dy=".35em"'  # centres a label on its bar's middle line
LABEL_CHARS = 22  # longer category labels are shortened; the full text stays in the mark's <title>


@dataclass(frozen=True)
class Datum:
    label: str
    value: Number
    text: str = ""  # the value as written on the chart; the number with thousands separators by default

    @property
    def shown(self) -> str:
        return self.text or f"{self.value:,}"


def short(label: str, limit: int = LABEL_CHARS) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _open(testid: str, title: str, height: float, description: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg" viewBox="0 0 {WIDTH} {height:.0f}" role="img" '
        f'aria-labelledby="{escape(testid)}-title {escape(testid)}-desc" data-testid="{escape(testid)}">'
        f'<title id="{escape(testid)}-title">{escape(title)}</title>'
        f'<desc id="{escape(testid)}-desc">{escape(description)}</desc>'
    )


def _text(x: float, y: float, content: str, css: str = "chart-tick", anchor: str = "start", extra: str = "") -> str:
    return f'<text class="{css}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{escape(content)}</text>'


def _top(data: Sequence[Datum]) -> float:
    return max([float(d.value) for d in data] + [0.0]) or 1.0


def _finish(parts: list[str]) -> SafeString:
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 — every text in it went through escape()


def bar_chart(
    data: Sequence[Datum],
    *,
    title: str,
    testid: str,
    value_axis: str,
    category_axis: str,
    horizontal: bool = True,
    scale: Number | None = None,
) -> SafeString:
    """One bar per datum; the axis runs to ``scale`` (e.g. 100 for percentages) or else to the
    largest value. ``value_axis`` and ``category_axis`` are the axis titles."""
    if not data:
        return mark_safe("")
    draw = _horizontal if horizontal else _vertical
    return draw(list(data), title, testid, value_axis, category_axis, float(scale or _top(data)))


def _horizontal(data: list[Datum], title: str, testid: str, value_axis: str, category_axis: str, biggest: float):
    left, right, top, row = 170, 90, 34, 26
    height = top + row * len(data) + 40
    usable = WIDTH - left - right
    widest = max(data, key=lambda d: d.value)
    parts = [_open(testid, title, height, f"{value_axis} per {category_axis.lower()}; largest: {widest.label}")]
    parts.append(_text(8, 16, category_axis, "chart-axis-title"))
    for index, datum in enumerate(data):
        y = top + index * row
        length = usable * float(datum.value) / biggest
        parts.append(
            f'<g class="chart-mark" data-label="{escape(datum.label)}"><title>{escape(datum.label)}: '
            f'{escape(datum.shown)}</title><rect class="chart-bar" x="{left}" y="{y:.1f}" width="{length:.1f}" '
            f'height="{row - 8}"/>'
            + _text(left - 6, y + row / 2 - 4, short(datum.label), anchor="end", extra=MIDDLE)
            + _text(left + length + 4, y + row / 2 - 4, datum.shown, "chart-value", extra=MIDDLE)
            + "</g>"
        )
    base = top + row * len(data)
    parts.append(f'<line class="chart-axis" x1="{left}" y1="{base:.1f}" x2="{left + usable}" y2="{base:.1f}"/>')
    parts.append(_text(left, base + 14, "0", anchor="middle"))
    parts.append(
        _text(left + usable, base + 14, f"{biggest:,.0f}" if biggest >= 10 else f"{biggest:g}", anchor="middle")
    )
    parts.append(_text(left + usable / 2, base + 32, value_axis, "chart-axis-title", "middle"))
    return _finish(parts)


def _vertical(data: list[Datum], title: str, testid: str, value_axis: str, category_axis: str, biggest: float):
    left, top, bottom, height = 70, 30, 56, 260
    usable_h = height - top - bottom
    slot = (WIDTH - left - 10) / len(data)
    base = height - bottom
    parts = [_open(testid, title, height, f"{value_axis} per {category_axis}")]
    parts.append(_text(8, 16, value_axis, "chart-axis-title"))
    parts.append(f'<line class="chart-axis" x1="{left}" y1="{base}" x2="{WIDTH - 10}" y2="{base}"/>')
    parts.append(_text(left - 6, base + 4, "0", anchor="end"))
    parts.append(_text(left - 6, top + 4, f"{biggest:,.0f}", anchor="end"))
    for index, datum in enumerate(data):
        bar_h = usable_h * float(datum.value) / biggest
        x = left + index * slot + slot * 0.15
        centre = x + slot * 0.35
        parts.append(
            f'<g class="chart-mark" data-label="{escape(datum.label)}"><title>{escape(datum.label)}: '
            f'{escape(datum.shown)}</title><rect class="chart-bar" x="{x:.1f}" y="{base - bar_h:.1f}" '
            f'width="{slot * 0.7:.1f}" height="{bar_h:.1f}"/>'
            + _text(centre, base - bar_h - 4, datum.shown, "chart-value", "middle")
            + _text(centre, base + 14, short(datum.label, 14), anchor="middle")
            + "</g>"
        )
    parts.append(_text(left + (WIDTH - left) / 2, height - 12, category_axis, "chart-axis-title", "middle"))
    return _finish(parts)


def funnel_chart(data: Sequence[Datum], *, title: str, testid: str, value_axis: str = "Leads") -> SafeString:
    """Steps in order, each a centred bar as wide as its share of the widest step, with its count
    and its share of the first step."""
    if not data:
        return mark_safe("")
    left, right, top, row = 150, 110, 34, 30
    data = list(data)
    height = top + row * len(data) + 24
    usable, biggest = WIDTH - left - right, _top(data)
    first = float(data[0].value)
    parts = [_open(testid, title, height, f"{value_axis} per step, in workflow order")]
    parts.append(_text(8, 16, "Status", "chart-axis-title"))
    parts.append(_text(WIDTH - 8, 16, f"{value_axis} (share of first step)", "chart-axis-title", "end"))
    for index, datum in enumerate(data):
        y = top + index * row
        width = max(usable * float(datum.value) / biggest, 2)
        x = left + (usable - width) / 2
        share = f" ({float(datum.value) / first:.0%})" if first else ""
        parts.append(
            f'<g class="chart-mark" data-label="{escape(datum.label)}"><title>{escape(datum.label)}: '
            f'{escape(datum.shown)}{share}</title><rect class="chart-funnel" x="{x:.1f}" y="{y:.1f}" '
            f'width="{width:.1f}" height="{row - 6}" rx="3"/>'
            + _text(left - 6, y + row / 2 - 3, short(datum.label, 20), anchor="end", extra=MIDDLE)
            + _text(WIDTH - 8, y + row / 2 - 3, f"{datum.shown}{share}", "chart-value", "end", MIDDLE)
            + "</g>"
        )
    return _finish(parts)


def area_chart(data: Sequence[Datum], *, title: str, testid: str, value_axis: str, time_axis: str) -> SafeString:
    """A line with the area under it, one point per datum (a day), in order."""
    if not data:
        return mark_safe("")
    left, right, top, bottom, height = 50, 20, 30, 50, 220
    data = list(data)
    base, usable_h, biggest = height - bottom, height - top - bottom, _top(data)
    step = (WIDTH - left - right) / max(len(data) - 1, 1)
    points = [(left + i * step, base - usable_h * float(d.value) / biggest) for i, d in enumerate(data)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    parts = [_open(testid, title, height, f"{value_axis} per {time_axis.lower()}")]
    parts.append(_text(8, 16, value_axis, "chart-axis-title"))
    parts.append(f'<polygon class="chart-area" points="{left},{base} {line} {points[-1][0]:.1f},{base}"/>')
    parts.append(f'<polyline class="chart-line" points="{line}"/>')
    parts.append(f'<line class="chart-axis" x1="{left}" y1="{base}" x2="{WIDTH - right}" y2="{base}"/>')
    parts.append(_text(left - 6, base + 4, "0", anchor="end"))
    parts.append(_text(left - 6, top + 4, f"{biggest:,.0f}", anchor="end"))
    labelled = {0, len(data) // 2, len(data) - 1}
    for index, ((x, y), datum) in enumerate(zip(points, data, strict=True)):
        parts.append(
            f'<g class="chart-mark" data-label="{escape(datum.label)}"><title>{escape(datum.label)}: '
            f'{escape(datum.shown)}</title><circle class="chart-point" cx="{x:.1f}" cy="{y:.1f}" r="3"/></g>'
        )
        if index in labelled:
            parts.append(_text(x, base + 14, datum.label, anchor="middle"))
    parts.append(_text(left + (WIDTH - left) / 2, height - 12, time_axis, "chart-axis-title", "middle"))
    return _finish(parts)
