"""Rich rendering of a campaign: per-stage progress bars while it runs, the report table when it ends."""

from __future__ import annotations

import asyncio
import contextlib
import time

import redis.asyncio as aioredis
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from engine.budget.standing import standing
from engine.cli.common import console, plain
from engine.reports.summary import FUNNEL_STEPS, Report, build_report, header_rows
from engine.reports.timeline import recent_rate
from engine.state import campaigns, window
from engine.types import TERMINAL, CampaignState

REFRESH_SECONDS = 0.5


def _stages(r: Report) -> dict[str, tuple[int, int]]:
    """(done, total) per stage, from the counters."""
    resolved = r.capable + r.not_capable + r.provider_invalid
    failed = r.failed_by_channel
    smart_done = r.sent["smart"] + failed.get("smart", 0)
    fallback_done = (
        r.sent["sms"] + r.sent["basic"] + failed.get("sms", 0) + failed.get("basic", 0) + r.skipped
    )
    return {
        "resolve": (resolved, r.accepted),
        "smart": (smart_done, r.capable),
        "fallback": (fallback_done, r.not_capable),
        "batches": (r.batches_done, r.batches),
    }


def _rate(r: Report) -> float:
    """Numbers sent per second over the last complete ``timeline.RECENT_SECONDS`` of the timeline."""
    return recent_rate(r.timeline, time.time(), r.timeline_step)


class StageBars:
    """One rich progress bar per stage, updated from reports."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("{task.description:<9}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"),
            TimeRemainingColumn(),
            console=console,
        )
        self.tasks: dict[str, TaskID] = {}

    def update(self, r: Report, state: str) -> None:
        for stage, (done, total) in _stages(r).items():
            if stage not in self.tasks:
                self.tasks[stage] = self.progress.add_task(stage, total=max(total, 1), note="")
            note = plain(state) if stage == "batches" else ""  # a TextColumn reads markup
            self.progress.update(self.tasks[stage], completed=done, total=max(total, 1), note=note)


async def watch(redis: aioredis.Redis, cid: str, follow: bool) -> Report:
    """Show bars once, or until the campaign reaches a terminal state when ``follow``."""
    bars = StageBars()
    report = await build_report(redis, cid)
    bars.update(report, await state_line(redis, cid))
    # Live only on a terminal: elsewhere it leaves its last frame without a line end (rich's behaviour).
    live = (
        Live(bars.progress, console=console, refresh_per_second=4) if follow and console.is_terminal else None
    )
    with live or contextlib.nullcontext():
        while follow and CampaignState(report.state) not in TERMINAL:
            await asyncio.sleep(REFRESH_SECONDS)
            report = await build_report(redis, cid)
            bars.update(report, await state_line(redis, cid))
    if live is None:
        console.print(bars.progress)
    sent = sum(report.sent.values())
    state = await state_line(redis, cid)
    console.print(
        f"state {state}  sent {sent}  rate {_rate(report):.0f}/s  {time.strftime('%X')}", markup=False
    )
    return report


async def state_line(redis: aioredis.Redis, cid: str) -> str:
    """The state and what the campaign waits for: ``running — waiting for send window (opens 08:00)``, its
    place in line (``running — smart 45% (normal, weight 1, with 2 others); 8 batches running, ...``), or
    the reason of a pause (``paused — trial sent; resume to send to everyone``)."""
    record = await campaigns.load(redis, cid)
    why = record.reason if record.state is CampaignState.PAUSED else None
    if record.state in (CampaignState.RUNNING, CampaignState.SCHEDULED):
        why = window.waiting_note(record.spec.schedule, window.utc_now())
        why = why or (await standing(redis, cid)).note(cid)
    return f"{record.state.value} — {why}" if why else record.state.value


def render_report(r: Report) -> None:
    """What ran when and what it cost, the console's table (导入号码总数 ...) with the send outcome, then the
    delivery funnel per channel."""
    render_header(r)
    table = Table(title=plain(f"campaign {r.campaign} — {r.state}"), show_header=True)  # cells read markup
    table.add_column("figure")
    table.add_column("numbers", justify="right")
    for name, value in r.figures():
        table.add_row(plain(name), f"{value:,}")
    if r.reason:
        table.caption = plain(r.reason)
    console.print(table)
    render_funnel(r)
    if r.detail_note():
        console.print(plain(r.detail_note()), style="dim", highlight=False)


def render_header(r: Report) -> None:
    """Name, parent, times in the campaign's zone, duration, cost and opt-outs, one per line."""
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for label, value in header_rows(r):
        table.add_row(label, plain(value))
    console.print(table)


def render_funnel(r: Report) -> None:
    """A row per channel used: submitted → accepted → delivered / undelivered / awaiting receipts; failed."""
    funnels = r.used_channels()
    if not funnels:
        return
    table = Table(title="delivery funnel", box=None, pad_edge=False)  # fits 80 columns
    table.add_column("channel", no_wrap=True)
    for step in FUNNEL_STEPS:
        table.add_column(step, justify="right", min_width=len(step))
    for channel, funnel in funnels.items():
        table.add_row(channel, *(f"{value:,}" for _, value in funnel.steps()))
        for status, count in funnel.undelivered_by_status.items():
            table.add_row(plain(f"  ↳ {status}"), "", "", "", f"{count:,}", "", "")
    console.print(table)
