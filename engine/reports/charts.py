"""Inline SVG charts (horizontal bars, lines over time) for the self-contained HTML report; no JS needed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Final

WIDTH: Final = 640
BAR: Final = 22  # bar height and row pitch minus the gap
GAP: Final = 6
LABEL: Final = 170  # room for the bar labels on the left
PALETTE: Final = ("#2f6fdf", "#e08a1e", "#3a9d5d", "#c0392b", "#8e44ad", "#7f8c8d", "#16a085", "#d35400")


def _svg(height: int, body: str, title: str) -> str:
    return (
        f'<svg role="img" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def bars(title: str, items: Sequence[tuple[str, int]]) -> str:
    """One horizontal bar per (label, value), scaled to the largest value, the value printed after it."""
    top = max((value for _, value in items), default=0) or 1
    span = WIDTH - LABEL - 80
    parts = []
    for row, (label, value) in enumerate(items):
        y = row * (BAR + GAP)
        width = round(span * value / top)
        parts.append(
            f'<text x="{LABEL - 8}" y="{y + 16}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{LABEL}" y="{y}" width="{width}" height="{BAR}" fill="{PALETTE[row % len(PALETTE)]}"/>'
            f'<text x="{LABEL + width + 6}" y="{y + 16}">{value:,}</text>'
        )
    return _svg(max(1, len(items)) * (BAR + GAP), "".join(parts), title)


def lines(title: str, series: Mapping[str, Sequence[float]], x_labels: tuple[str, str], unit: str) -> str:
    """One polyline per series over the same evenly spaced x positions; the y axis starts at zero."""
    height, left, bottom, top_pad = 240, 56, 28, 12
    plot_w, plot_h = WIDTH - left - 110, height - bottom - top_pad
    points = max((len(values) for values in series.values()), default=0)
    top = max((max(values, default=0.0) for values in series.values()), default=0.0) or 1.0
    step = plot_w / max(1, points - 1)
    base = top_pad + plot_h
    parts = [
        f'<line x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" stroke="#999"/>',
        f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{base}" stroke="#999"/>',
        f'<text x="{left - 6}" y="{top_pad + 10}" text-anchor="end">{top:,.0f}</text>',
        f'<text x="{left - 6}" y="{top_pad + plot_h}" text-anchor="end">0</text>',
        f'<text x="{left}" y="{height - 8}">{escape(x_labels[0])}</text>',
        f'<text x="{left + plot_w}" y="{height - 8}" text-anchor="end">{escape(x_labels[1])}</text>',
        f'<text x="{left + 4}" y="{top_pad + 10}" fill="#666">{escape(unit)}</text>',
    ]
    for row, (name, values) in enumerate(series.items()):
        colour = PALETTE[row % len(PALETTE)]
        xy = " ".join(
            f"{left + i * step:.1f},{top_pad + plot_h - plot_h * v / top:.1f}" for i, v in enumerate(values)
        )
        shape = f'<polyline points="{xy}" fill="none" stroke="{colour}" stroke-width="2"/>'
        if len(values) == 1:  # a single minute is a point, not a line
            x, y = xy.split(",")
            shape = f'<circle cx="{x}" cy="{y}" r="4" fill="{colour}"/>'
        legend_x, legend_y = left + plot_w + 14, top_pad + 14 + row * 18
        parts.append(
            f'{shape}<rect x="{legend_x}" y="{legend_y - 10}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{legend_x + 18}" y="{legend_y}">{escape(name)}</text>'
        )
    return _svg(height, "".join(parts), title)
