"""The board: several campaigns on one screen, live — each one's progress, class, rate now and share of the
smart budget — so that an operator sees how campaigns running together divide the account's caps
(``koodispatch top`` in ``history.py``, and ``koodispatch demo --campaigns N``).

The rate shown is measured here, from the numbers done sampled at each refresh over the last
``RATE_WINDOW`` seconds (``progress.RateMeter``, as ``status --watch``): what the campaign actually got,
next to the share the admission gives it now.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import redis.asyncio as aioredis
from rich.live import Live
from rich.markup import escape
from rich.progress_bar import ProgressBar
from rich.table import Table

from engine.budget import tenants
from engine.budget.standing import Share, channel_share
from engine.cli.common import console
from engine.cli.progress import RateMeter, numbers_done
from engine.reports.summary import Report, build_report
from engine.state import campaigns
from engine.types import TERMINAL, CampaignState

RATE_WINDOW: Final = 5.0  # seconds the rate now is measured over
REFRESH_SECONDS: Final = 0.5
PLAIN_EVERY: Final = 5.0  # seconds between plain lines when the output is not a terminal
MOST: Final = 20  # campaigns on the board at once


@dataclass(frozen=True, slots=True)
class BoardRow:
    """One campaign on the board."""

    cid: str
    name: str
    tenant: tenants.Tenant
    report: Report

    @property
    def done(self) -> int:
        return numbers_done(self.report)

    @property
    def terminal(self) -> bool:
        return CampaignState(self.report.state) in TERMINAL


async def running_ids(redis: aioredis.Redis) -> list[str]:
    """The campaigns sending or about to (running, scheduled, paused), newest first, at most ``MOST``."""
    from engine import api

    found: list[str] = []
    for state in ("running", "scheduled", "paused"):
        found += [row.cid for row in await api.list_campaigns(redis=redis, state=state, limit=MOST)]
    return found[:MOST]


async def snapshot(redis: aioredis.Redis, cids: Sequence[str]) -> list[BoardRow]:
    """Each campaign's name, live class and weight, and report now; the campaigns read side by side, so a
    board of twenty refreshes in the time of one."""

    async def row(cid: str) -> BoardRow:
        record, tenant, report = await asyncio.gather(
            campaigns.load(redis, cid), tenants.load(redis, cid), build_report(redis, cid)
        )
        return BoardRow(cid, record.spec.name, tenant, report)

    return list(await asyncio.gather(*(row(cid) for cid in cids)))


def table(rows: Sequence[BoardRow], rates: dict[str, float], smart: Share) -> Table:
    """The board as a table: one line per campaign, within 80 columns."""
    grid = Table(
        "campaign", "class", "progress", "done", "state", "rate now", "share", box=None, padding=(0, 1)
    )
    for row in rows:
        sharer = smart.of(row.cid)
        share = f"{sharer.rate / smart.rate:.0%}" if sharer is not None and smart.rate else "—"
        grid.add_row(
            escape(row.name or row.cid)[:14],
            f"{row.tenant.priority} ×{row.tenant.weight:g}",
            ProgressBar(total=max(row.report.accepted, 1), completed=row.done, width=12),
            f"{row.done:,}/{row.report.accepted:,}",
            escape(row.report.state),
            f"{rates.get(row.cid, 0.0):,.0f}/s",
            share,
        )
    return grid


def plain_lines(rows: Sequence[BoardRow], rates: dict[str, float]) -> list[str]:
    """The board as plain lines, for output that is not a terminal (a pipe, a log file)."""
    stamp = time.strftime("%X")
    return [
        f"{stamp} {row.name or row.cid} [{row.tenant.priority}] {row.report.state} "
        f"{row.done:,}/{row.report.accepted:,} {rates.get(row.cid, 0.0):,.0f}/s"
        for row in rows
    ]


async def board(redis: aioredis.Redis, cids: Sequence[str] | None, follow: bool) -> list[BoardRow]:
    """Show the board once, or until every campaign shown has ended when ``follow`` (``cids`` None: the
    running ones, looked up again at each refresh); returns the last rows."""
    meters: dict[str, RateMeter] = {}
    printed = 0.0
    live = Live(console=console, refresh_per_second=4) if follow and console.is_terminal else None
    if live is not None:
        live.start()
    try:
        while True:
            ids = list(cids) if cids is not None else await running_ids(redis)
            rows = await snapshot(redis, ids)
            now = time.monotonic()
            rates = {}
            for row in rows:
                meter = meters.setdefault(row.cid, RateMeter(RATE_WINDOW))
                meter.add(row.done, now)
                rates[row.cid] = meter.pace(row.report).rate
            view = table(rows, rates, await channel_share(redis, "smart"))
            if live is not None:
                live.update(view)
            elif not follow:
                console.print(view)
            elif now - printed >= PLAIN_EVERY:
                printed = now
                for line in plain_lines(rows, rates):
                    console.print(line, markup=False, highlight=False)
            if not follow or (rows and all(row.terminal for row in rows)):
                return rows
            await asyncio.sleep(REFRESH_SECONDS)
    finally:
        if live is not None:
            live.stop()
