"""The forecast chart as server-rendered SVG (no JavaScript, no CDN): per period, one bar stacked by
forecast category (unweighted amounts) beside one bar of the weighted total."""

from __future__ import annotations

from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from accounts.forecast import CATEGORIES, Forecast

WIDTH, HEIGHT, TOP, BOTTOM, LEFT = 720, 260, 16, 40, 70
COLOURS = {"commit": "#2e7d32", "best_case": "#1e88e5", "most_likely": "#8e24aa", "worst_case": "#f9a825"}
WEIGHTED_COLOUR = "#455a64"


def _y(value: Decimal, top: Decimal) -> float:
    usable = HEIGHT - TOP - BOTTOM
    return HEIGHT - BOTTOM - float(value / top) * usable if top else HEIGHT - BOTTOM


def forecast_chart(result: Forecast) -> SafeString:
    top = max([p.total.amount for p in result.periods] + [Decimal(1)])
    slot = (WIDTH - LEFT) / len(result.periods)
    bar = min(slot / 3, 60)
    parts = [
        f'<svg class="forecast-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="Forecast per period: amounts by category and weighted total" data-testid="forecast-chart">'
    ]
    for fraction in (0, 0.5, 1):
        y = _y(top * Decimal(str(fraction)), top)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{top * Decimal(str(fraction)):,.0f}</text>'
        )
    for index, period in enumerate(result.periods):
        x = LEFT + index * slot + slot / 2 - bar
        base = Decimal(0)
        for category in CATEGORIES:
            figure = period.by_category[category.value]
            if figure.amount:
                y_top, y_base = _y(base + figure.amount, top), _y(base, top)
                parts.append(
                    f'<rect x="{x:.1f}" y="{y_top:.1f}" width="{bar:.1f}" height="{y_base - y_top:.1f}" '
                    f'fill="{COLOURS[category.value]}"><title>{escape(period.label)} · {category.label}: '
                    f"{figure.amount:,} {escape(result.currency)}</title></rect>"
                )
                base += figure.amount
        weighted_top = _y(period.total.weighted, top)
        parts.append(
            f'<rect x="{x + bar + 4:.1f}" y="{weighted_top:.1f}" width="{bar:.1f}" '
            f'height="{HEIGHT - BOTTOM - weighted_top:.1f}" fill="{WEIGHTED_COLOUR}"><title>'
            f"{escape(period.label)} · weighted: {period.total.weighted:,} {escape(result.currency)}</title></rect>"
            f'<text x="{x + bar:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{escape(period.label)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 — every text in it is escaped above


LEGEND = [(c.label, c.value) for c in CATEGORIES] + [("Weighted total", "weighted")]  # CSS: .swatch-<key>
