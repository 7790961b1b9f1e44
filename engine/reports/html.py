"""A self-contained HTML report: tables, inline SVG charts and the report itself as embedded JSON.

Nothing is fetched when the page opens (no CDN, no script runs), so it can be mailed or archived as one
file; ``<script type="application/json" id="report-data">`` carries ``Report.to_dict()`` for tools.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Final
from urllib.parse import quote
from zoneinfo import ZoneInfo

import orjson

from engine.reports import charts, timeline
from engine.reports.output import private_file
from engine.reports.summary import FUNNEL_STEPS, Report, header_rows
from engine.reports.timeline import stamp
from engine.reports.timing import shown, zone_label
from engine.state import trial

# Chinese text needs a font that has it: the system's UI font first, then the CJK fonts of macOS, Windows
# and Linux by name, so a page opened where the default font lacks CJK glyphs shows no boxes.
FONTS: Final = (
    'system-ui,-apple-system,"Segoe UI","PingFang SC","Hiragino Sans GB","Microsoft YaHei",'
    '"Noto Sans CJK SC","Noto Sans SC","Source Han Sans SC","WenQuanYi Micro Hei","Droid Sans Fallback",'
    "sans-serif"
)
STYLE: Final = f"""
body{{font:14px/1.45 {FONTS};margin:2rem auto;max-width:980px;color:#222;padding:0 1rem}}
h1{{font-size:1.4rem}}h2{{font-size:1.1rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}}
table{{border-collapse:collapse;margin:.5rem 0}}td,th{{border:1px solid #ddd;padding:.25rem .6rem}}
td.n,th.n{{text-align:right;font-variant-numeric:tabular-nums}}
svg text{{font-size:12px;fill:#222;font-family:{FONTS}}}
.muted{{color:#777}}
"""
MAX_POINTS: Final = 720  # rate chart points; a longer campaign's buckets are averaged in groups


def _table(header: Iterable[str], rows: Iterable[Iterable[str | int]]) -> str:
    def cell(tag: str, value: str | int) -> str:
        if isinstance(value, int):
            return f'<{tag} class="n">{value:,}</{tag}>'
        return f"<{tag}>{escape(value)}</{tag}>"

    head = "".join(cell("th", h) for h in header)
    body = "".join("<tr>" + "".join(cell("td", v) for v in row) + "</tr>" for row in rows)
    thead = f"<thead><tr>{head}</tr></thead>" if head else ""
    return f"<table>{thead}<tbody>{body}</tbody></table>"


def rate_chart(r: Report) -> str:
    """Numbers accepted per second, per channel, per timeline bucket (10 s; nothing sent = zero), labelled
    in the campaign's time zone; a campaign longer than ``MAX_POINTS`` buckets is averaged in groups."""
    xs, series = timeline.rates(r.timeline, r.timeline_step)
    if not xs:
        return '<p class="muted">nothing sent yet</p>'
    group = -(-len(xs) // MAX_POINTS)
    if group > 1:
        xs = xs[::group]
        series = {
            ch: [sum(v[i : i + group]) / group for i in range(0, len(v), group)] for ch, v in series.items()
        }
    zone = ZoneInfo(r.timing.timezone)
    short = len({datetime.fromtimestamp(x, zone).date() for x in xs}) == 1
    axes = charts.Axes(
        xs,
        lambda x: datetime.fromtimestamp(x, zone).strftime("%H:%M:%S" if short else "%m-%d %H:%M"),
        f"time ({zone_label(r.timing)})",
        f"numbers per second (per {r.timeline_step * group} s)",
    )
    return charts.lines("send rate per channel", series, axes, charts.channel_colour)


def funnel_section(r: Report) -> str:
    funnels = r.used_channels()
    if not funnels:
        return '<p class="muted">no channel has been sent to yet</p>'
    rows: list[list[str | int]] = [[channel, *(n for _, n in f.steps())] for channel, f in funnels.items()]
    parts = [_table(["channel", *FUNNEL_STEPS], rows)]
    for channel, f in funnels.items():
        steps = [charts.Bar(step, n, charts.step_colour(step)) for step, n in f.steps()]
        details = _kinds(f.undelivered_by_status, "undelivered") + _kinds(f.failed_by_reason, "failed")
        heading = f'<h3 style="color:{charts.channel_colour(channel)}">{escape(channel)}</h3>'
        parts.append(heading + charts.bars(f"funnel {channel}", steps + details))
    return "".join(parts)


def _kinds(counts: Mapping[str, int], kind: str) -> list[charts.Bar]:
    """``undelivered: EXPIRED``-style bars in the colour of their funnel step."""
    return [charts.Bar(f"{kind}: {name}", n, charts.step_colour(kind)) for name, n in counts.items()]


def failure_items(r: Report) -> list[charts.Bar]:
    """Send-time reasons, then undelivered status reports by status over all channels, largest first;
    coloured as the funnel's "failed" and "undelivered" steps."""
    statuses: dict[str, int] = {}
    for f in r.funnel.values():
        for status, n in f.undelivered_by_status.items():
            statuses[status] = statuses.get(status, 0) + n
    failed = [charts.Bar(reason, n, charts.step_colour("failed")) for reason, n in r.failed_by_reason.items()]
    items = failed + _kinds(statuses, "undelivered")
    return sorted(items, key=lambda bar: -bar.value)


def parent_link(r: Report) -> str:
    """A trial send or a resend names and links its parent's page (``<parent>.html`` beside this one)."""
    if not r.parent:
        return ""
    what = "Trial send" if trial.campaign_of(r.campaign) else "Resend of failed numbers"
    href = quote(f"{r.parent}.html")
    return f'<p>{what} of campaign <a href="{href}">{escape(r.parent)}</a></p>'


def render_html(r: Report) -> str:
    """The whole page as one string."""
    failures = failure_items(r)
    data = orjson.dumps(r.to_dict()).decode().replace("<", "\\u003c")  # no "</script>" inside the JSON
    title = f"koodispatch report — {r.name} ({r.campaign})"
    generated = shown(stamp(time.time(), ZoneInfo(r.timing.timezone)))
    return "".join(
        [
            f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(title)}</title>',
            f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>",
            parent_link(r),
            f"<p>state <b>{escape(r.state)}</b>{' — ' + escape(r.reason) if r.reason else ''}; "
            f"batches {r.batches_done:,}/{r.batches:,}; generated {generated}</p>",
            _table((), header_rows(r)),
            "<h2>Import and resolution</h2>",
            _table(["figure", "numbers"], r.figures()),
            "<h2>Delivery funnel per channel</h2>",
            funnel_section(r),
            "<h2>Send rate</h2>",
            rate_chart(r),
            "<h2>Failure reasons</h2>",
            charts.bars("failure reasons", failures) if failures else '<p class="muted">no failures</p>',
            f'<script type="application/json" id="report-data">{data}</script></body></html>',
        ]
    )


def write_html(r: Report, path: Path, *, force: bool = False) -> None:
    """Write the page to ``path`` (mode 0600, see ``output.private_file``); raises ConfigError when it exists
    and ``force`` is false, OSError when it cannot be written."""
    with private_file(path, force=force) as handle:
        handle.write(render_html(r).encode("utf-8"))
