"""Rich rendering of a campaign: per-stage progress bars while it runs, the report table when it ends."""

from __future__ import annotations

import asyncio
import contextlib
import time

import redis.asyncio as aioredis
from rich.console import Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table
from rich.text import Text

from engine.budget.standing import standing
from engine.cli.common import console, plain
from engine.cli.progress import ONE_SHOT_WINDOW, WATCH_WINDOW, Pace, RateMeter, ended, numbers_done
from engine.reports.summary import FUNNEL_STEPS, Report, build_report, header_rows
from engine.state import campaigns, window
from engine.types import TERMINAL, CampaignState

REFRESH_SECONDS = 0.5
PLAIN_EVERY = 3.0  # seconds between progress lines when the output is not a terminal


def _stages(r: Report) -> dict[str, tuple[int, int]]:
    """(done, total) per stage, from the counters; every total is known from the start (the numbers
    submitted), so no bar's end moves while the capability check goes on."""
    resolved = r.capable + r.not_capable + r.provider_invalid
    return {
        "numbers": (numbers_done(r), r.accepted),
        "resolve": (resolved, r.accepted),
        "smart": (r.sent["smart"] + r.failed_by_channel.get("smart", 0), r.capable),
        "batches": (r.batches_done, r.batches),
    }


class StageBars:
    """One rich progress bar per stage and a line of pace and state below them, updated from reports;
    80 columns wide at most (no per-bar ETA: a stage's ETA would count only the numbers resolved so far)."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("{task.description:<8}"),
            BarColumn(bar_width=30),
            MofNCompleteColumn(),
            console=console,
        )
        self.tasks: dict[str, TaskID] = {}
        self.pace = Text()
        self.state = Text()

    def update(self, r: Report, pace: Pace, state: str) -> None:
        for stage, (done, total) in _stages(r).items():
            if stage not in self.tasks:
                self.tasks[stage] = self.progress.add_task(stage, total=max(total, 1))
            self.progress.update(self.tasks[stage], completed=done, total=max(total, 1))
        self.pace.plain = pace.line()
        self.state.plain = state

    def renderable(self) -> Group:
        return Group(self.progress, self.pace, self.state)


async def _budget_rate(redis: aioredis.Redis, cid: str) -> float:
    """The rate the campaign's shares of the channel budgets give it now (the fastest channel it asks)."""
    shares = (await standing(redis, cid)).shares.values()
    return max((mine.rate for share in shares if (mine := share.of(cid)) is not None), default=0.0)


async def _sample(redis: aioredis.Redis, cid: str, meter: RateMeter) -> tuple[Report, Pace, str]:
    """The report, its pace (an ended campaign's: its average) and the state line, read now."""
    report = await build_report(redis, cid)
    meter.add(numbers_done(report))
    if CampaignState(report.state) in TERMINAL:
        record = await campaigns.load(redis, cid)
        pace = ended(report, record.updated_at - record.created_at)
    else:
        running = report.state == CampaignState.RUNNING.value
        pace = meter.pace(report, await _budget_rate(redis, cid) if running else 0.0)
    return report, pace, await state_line(redis, cid)


async def watch(redis: aioredis.Redis, cid: str, follow: bool) -> Report:
    """Show bars once, or until the campaign reaches a terminal state when ``follow``.

    At a terminal the bars refresh in place; elsewhere (a pipe, ``tee``, a log) a plain line every
    ``PLAIN_EVERY`` seconds. Once: the rate of a running campaign is measured over ``ONE_SHOT_WINDOW``.
    """
    bars = StageBars()
    meter = RateMeter(WATCH_WINDOW if follow else ONE_SHOT_WINDOW)
    report, pace, state = await _sample(redis, cid, meter)
    if not follow and report.state == CampaignState.RUNNING.value:
        await asyncio.sleep(ONE_SHOT_WINDOW)
        report, pace, state = await _sample(redis, cid, meter)
    bars.update(report, pace, state)
    live = (
        Live(bars.renderable(), console=console, refresh_per_second=4)
        if follow and console.is_terminal
        else None
    )
    printed = 0.0
    with live or contextlib.nullcontext():
        while follow and CampaignState(report.state) not in TERMINAL:
            if live is None and time.monotonic() - printed >= PLAIN_EVERY:
                _plain_line(pace, state)
                printed = time.monotonic()
            await asyncio.sleep(REFRESH_SECONDS)
            report, pace, state = await _sample(redis, cid, meter)
            bars.update(report, pace, state)
    if live is None:
        console.print(bars.renderable())
    return report


def _plain_line(pace: Pace, state: str) -> None:
    """One line of progress where there is no terminal to redraw on, flushed at once."""
    console.print(
        f"{time.strftime('%X')}  {pace.line()}  {state}", markup=False, highlight=False, soft_wrap=True
    )
    console.file.flush()


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
    for note in r.notes():
        console.print(plain(f"note: {note}"), highlight=False)
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
