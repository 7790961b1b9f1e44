"""Rich rendering of a campaign: per-stage progress bars while it runs, the report table when it ends."""

from __future__ import annotations

import asyncio
import contextlib
import time

import redis.asyncio as aioredis
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from engine.cli.common import console
from engine.records import TERMINAL, CampaignState
from engine.report import Report, build_report

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
    """Numbers sent per second over the last full minute of the timeline."""
    minutes = sorted(r.timeline)
    if len(minutes) < 2:
        return 0.0
    return sum(r.timeline[minutes[-2]].values()) / 60


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

    def update(self, r: Report) -> None:
        for stage, (done, total) in _stages(r).items():
            if stage not in self.tasks:
                self.tasks[stage] = self.progress.add_task(stage, total=max(total, 1), note="")
            note = f"{r.state}" if stage == "batches" else ""
            self.progress.update(self.tasks[stage], completed=done, total=max(total, 1), note=note)


async def watch(redis: aioredis.Redis, cid: str, follow: bool) -> Report:
    """Show bars once, or until the campaign reaches a terminal state when ``follow``."""
    bars = StageBars()
    report = await build_report(redis, cid)
    bars.update(report)
    # Live only on a terminal: elsewhere it leaves its last frame without a line end (rich's behaviour).
    live = (
        Live(bars.progress, console=console, refresh_per_second=4) if follow and console.is_terminal else None
    )
    with live or contextlib.nullcontext():
        while follow and CampaignState(report.state) not in TERMINAL:
            await asyncio.sleep(REFRESH_SECONDS)
            report = await build_report(redis, cid)
            bars.update(report)
    if live is None:
        console.print(bars.progress)
    sent = sum(report.sent.values())
    console.print(f"state {report.state}  sent {sent}  rate {_rate(report):.0f}/s  {time.strftime('%X')}")
    return report


def render_report(r: Report) -> None:
    """The console's table (导入号码总数 ...) and the send outcome table."""
    table = Table(title=f"campaign {r.campaign} — {r.state}", show_header=True)
    table.add_column("figure")
    table.add_column("numbers", justify="right")
    rows = [
        ("rows read", r.rows),
        ("导入号码总数(已去重) imported, de-duplicated", r.imported),
        ("重复 duplicates", r.duplicates),
        ("无效号码数 invalid", r.invalid),
        ("退订 suppressed (opted out)", r.suppressed),
        ("可解析 capable of smart messages", r.capable),
        ("不可解析 not capable", r.not_capable),
        ("提交发送信息号码数 submitted", r.accepted),
        ("sent: smart", r.sent["smart"]),
        ("sent: plain SMS (fallback)", r.sent["sms"]),
        ("sent: basic edition (fallback)", r.sent["basic"]),
        ("skipped by policy", r.skipped),
        ("failed", r.failed),
        ("not sent (paused/cancelled)", r.unsent),
    ]
    for name, value in rows:
        table.add_row(name, f"{value:,}")
    for reason, count in r.failed_by_reason.items():
        table.add_row(f"  failed: {reason}", f"{count:,}")
    if r.reason:
        table.caption = r.reason
    console.print(table)
