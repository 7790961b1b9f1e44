"""Inline SVG charts (horizontal bars, lines over time) for the self-contained HTML report; no JS needed.

Colours carry meaning and are the same wherever it appears: a funnel step and a failure reason of the
same kind share a colour (every undelivered status is "undelivered", never "delivered"'s green), and a
channel has one colour in every chart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

WIDTH: Final = 640
BAR: Final = 22  # bar height and row pitch minus the gap
GAP: Final = 6
LABEL: Final = 170  # room for the bar labels on the left
STEPS: Final = {  # funnel steps and outcome kinds
    "submitted": "#2f6fdf",
    "accepted": "#16a085",
    "delivered": "#3a9d5d",
    "undelivered": "#e08a1e",
    "awaiting": "#95a5a6",
    "failed": "#c0392b",
}
CHANNELS: Final = {"smart": "#2f6fdf", "sms": "#8e44ad", "basic": "#d35400"}
OTHER: Final = "#7f8c8d"
X_TICKS: Final = 6  # time labels along the x axis
Y_TICKS: Final = 4  # grid lines above zero


def step_colour(step: str) -> str:
    return STEPS.get(step, OTHER)


def channel_colour(channel: str) -> str:
    return CHANNELS.get(channel, OTHER)


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    colour: str


def _svg(height: int, body: str, title: str) -> str:
    return (
        f'<svg role="img" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def bars(title: str, items: Sequence[Bar]) -> str:
    """One horizontal bar per item, scaled to the largest value, the value printed after it."""
    top = max((bar.value for bar in items), default=0) or 1
    span = WIDTH - LABEL - 80
    parts = []
    for row, bar in enumerate(items):
        y = row * (BAR + GAP)
        width = round(span * bar.value / top)
        parts.append(
            f'<text x="{LABEL - 8}" y="{y + 16}" text-anchor="end">{escape(bar.label)}</text>'
            f'<rect x="{LABEL}" y="{y}" width="{width}" height="{BAR}" fill="{bar.colour}"/>'
            f'<text x="{LABEL + width + 6}" y="{y + 16}">{bar.value:,}</text>'
        )
    return _svg(max(1, len(items)) * (BAR + GAP), "".join(parts), title)


@dataclass(frozen=True, slots=True)
class Axes:
    """What the axes of a line chart say: ``x_label(x)`` names a point of ``xs``, the titles the units."""

    xs: Sequence[int]
    x_label: Callable[[int], str]
    x_title: str
    y_title: str


def _nice(top: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at or above ``top``: a y axis that ends on a round number."""
    magnitude = 10 ** (len(str(int(top))) - 1) if top >= 1 else 1
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= top)


def lines(title: str, series: Mapping[str, Sequence[float]], axes: Axes, colour: Callable[[str], str]) -> str:
    """One polyline per series over ``axes.xs``, a labelled grid on both axes, a legend with each peak."""
    height, left, bottom, top_pad = 280, 64, 48, 12
    plot_w, plot_h = WIDTH - left - 150, height - bottom - top_pad
    points = len(axes.xs)
    top = _nice(max((max(values, default=0.0) for values in series.values()), default=0.0) or 1.0)
    step = plot_w / max(1, points - 1)
    base = top_pad + plot_h
    parts = [f'<line x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" stroke="#999"/>']
    for k in range(Y_TICKS + 1):
        y = base - plot_h * k / Y_TICKS
        grid = (
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#eee"/>' if k else ""
        )
        value = top * k / Y_TICKS
        label = f"{value:,.0f}" if top >= 10 else f"{value:g}"  # 0.25/s steps for a trickle
        parts.append(f'{grid}<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    for index in sorted({round(i * (points - 1) / (X_TICKS - 1)) for i in range(X_TICKS)} if points else ()):
        x = left + index * step
        label = escape(axes.x_label(axes.xs[index]))
        parts.append(
            f'<line x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{base + 4}" stroke="#999"/>'
            f'<text x="{x:.1f}" y="{base + 18}" text-anchor="middle">{label}</text>'
        )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle">'
        f"{escape(axes.x_title)}</text>"
        f'<text transform="translate(14 {top_pad + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle">'
        f"{escape(axes.y_title)}</text>"
    )
    for row, (name, values) in enumerate(series.items()):
        parts.append(_series(name, values, colour(name), (left, base, step, plot_h / top)))
        legend_x, legend_y = left + plot_w + 14, top_pad + 14 + row * 18
        peak = max(values, default=0.0)
        parts.append(
            f'<rect x="{legend_x}" y="{legend_y - 10}" width="12" height="12" fill="{colour(name)}"/>'
            f'<text x="{legend_x + 18}" y="{legend_y}">{escape(name)} (peak {peak:,.0f})</text>'
        )
    return _svg(height, "".join(parts), title)


def _series(name: str, values: Sequence[float], colour: str, frame: tuple[float, float, float, float]) -> str:
    """A polyline, or a point when there is one value; ``frame`` = (left, base, x step, y scale)."""
    left, base, step, scale = frame
    xy = [(left + i * step, base - v * scale) for i, v in enumerate(values)]
    if len(xy) == 1:
        (x, y), tip = xy[0], f"<title>{escape(name)}</title>"
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}">{tip}</circle>'
    joined = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    return f'<polyline points="{joined}" fill="none" stroke="{colour}" stroke-width="2"/>'
