"""A self-contained HTML report: tables, inline SVG charts and the report itself as embedded JSON.

Nothing is fetched when the page opens (no CDN, no script runs), so it can be mailed or archived as one
file; ``<script type="application/json" id="report-data">`` carries ``Report.to_dict()`` for tools.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from html import escape
from pathlib import Path
from typing import Final

import orjson

from engine.reports import charts
from engine.reports.output import private_file
from engine.reports.summary import FUNNEL_STEPS, Report

STYLE: Final = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;
margin:2rem auto;max-width:980px;color:#222;padding:0 1rem}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.25rem .6rem}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}svg text{font-size:12px;fill:#222}
.muted{color:#777}
"""


def _table(header: Iterable[str], rows: Iterable[Iterable[str | int]]) -> str:
    def cell(tag: str, value: str | int) -> str:
        if isinstance(value, int):
            return f'<{tag} class="n">{value:,}</{tag}>'
        return f"<{tag}>{escape(value)}</{tag}>"

    head = "".join(cell("th", h) for h in header)
    body = "".join("<tr>" + "".join(cell("td", v) for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _minute(minute: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(minute * 60))


def rate_chart(r: Report) -> str:
    """Numbers accepted per second, per channel, minute by minute (missing minutes are zero)."""
    if not r.timeline:
        return '<p class="muted">nothing sent yet</p>'
    minutes = [int(m) for m in r.timeline]
    span = range(min(minutes), max(minutes) + 1)
    channels = sorted({ch for counts in r.timeline.values() for ch in counts})
    series = {ch: [r.timeline.get(str(m), {}).get(ch, 0) / 60 for m in span] for ch in channels}
    return charts.lines("send rate per channel", series, (_minute(span[0]), _minute(span[-1])), "numbers/s")


def funnel_section(r: Report) -> str:
    funnels = r.used_channels()
    if not funnels:
        return '<p class="muted">no channel has been sent to yet</p>'
    rows: list[list[str | int]] = [[channel, *(n for _, n in f.steps())] for channel, f in funnels.items()]
    parts = [_table(["channel", *FUNNEL_STEPS], rows)]
    for channel, f in funnels.items():
        statuses = [(f"undelivered: {status}", n) for status, n in f.undelivered_by_status.items()]
        reasons = [(f"failed: {reason}", n) for reason, n in f.failed_by_reason.items()]
        bars = charts.bars(f"funnel {channel}", f.steps() + statuses + reasons)
        parts.append(f"<h3>{escape(channel)}</h3>" + bars)
    return "".join(parts)


def failure_items(r: Report) -> list[tuple[str, int]]:
    """Send-time reasons, then undelivered status reports by status over all channels, largest first."""
    statuses: dict[str, int] = {}
    for f in r.funnel.values():
        for status, n in f.undelivered_by_status.items():
            statuses[status] = statuses.get(status, 0) + n
    items = list(r.failed_by_reason.items()) + [(f"undelivered: {s}", n) for s, n in statuses.items()]
    return sorted(items, key=lambda item: -item[1])


def render_html(r: Report) -> str:
    """The whole page as one string."""
    failures = failure_items(r)
    data = orjson.dumps(r.to_dict()).decode().replace("<", "\\u003c")  # no "</script>" inside the JSON
    title = f"koodispatch report — {r.campaign}"
    return "".join(
        [
            f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(title)}</title>',
            f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>",
            f"<p>state <b>{escape(r.state)}</b>{' — ' + escape(r.reason) if r.reason else ''}; "
            f"batches {r.batches_done:,}/{r.batches:,}; generated {_minute(int(time.time() // 60))}</p>",
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
