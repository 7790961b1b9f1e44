"""Campaign report: what ran when, what it cost, the console's import/resolution table, a delivery funnel per
channel, failure reasons and the send timeline."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis

from engine.reports import timeline
from engine.reports.cost import ActualCost, actual_cost
from engine.reports.opt_outs import opted_out_since
from engine.reports.timing import Timing, duration, shown, timing, zone_label
from engine.runtime.settings import PriceSettings
from engine.state import campaigns, retention, trial
from engine.state.progress import TIMELINE_STEP_SECONDS, counters, open_chunks
from engine.state.records import ChunkPath
from engine.store import keys

CHANNELS: Final = ("smart", "sms", "basic")


@dataclass(frozen=True, slots=True)
class Funnel:
    """One send channel from attempt to handset, in numbers.

    ``submitted`` = ``accepted`` + ``failed`` (numbers the provider took or refused at send time);
    ``accepted`` splits into ``delivered``, ``undelivered`` (status reports) and ``awaiting`` receipts;
    ``failed`` splits by send-time reason, ``undelivered`` by the status the report carried.
    """

    submitted: int
    accepted: int
    delivered: int
    undelivered: int
    awaiting: int
    failed: int
    undelivered_by_status: dict[str, int]
    failed_by_reason: dict[str, int]

    def steps(self) -> list[tuple[str, int]]:
        """(step, numbers) in funnel order, as the CLI table and the HTML chart show them."""
        return [(step, getattr(self, step)) for step in FUNNEL_STEPS]


FUNNEL_STEPS: Final = ("submitted", "accepted", "delivered", "undelivered", "awaiting", "failed")


@dataclass(frozen=True, slots=True)
class Report:
    """Every figure a campaign team asks for; ``unsent`` is what a cancel or pause left behind.

    ``parent`` is the campaign a trial send or a resend belongs to; ``timeline`` maps the start of each
    ``timeline_step``-second bucket (ISO 8601 in the campaign's zone) to the numbers accepted per channel;
    ``cost`` is None when the caller gave no prices (``koodispatch status``).
    """

    campaign: str
    name: str
    parent: str
    state: str
    reason: str
    timing: Timing
    rows: int
    imported: int
    duplicates: int
    invalid: int
    suppressed: int
    accepted: int
    capable: int
    not_capable: int
    provider_invalid: int
    sent: dict[str, int]
    skipped: int
    failed: int
    failed_by_reason: dict[str, int]
    failed_by_channel: dict[str, int]
    unsent: int
    batches: int
    batches_done: int
    in_flight: int
    funnel: dict[str, Funnel] = field(default_factory=dict)
    timeline: dict[str, dict[str, int]] = field(default_factory=dict)
    timeline_step: int = TIMELINE_STEP_SECONDS
    cost: ActualCost | None = None
    opted_out_since: int | None = None  # recipients in the opt-out list now (None: not counted, ``status``)
    # chunks (provider calls) by the path that settled them: sent, reconciled, resent,
    # confirmed_by_receipts, resent_after_timeout, unconfirmed, not_landed (``ChunkPath``)
    paths: dict[str, int] = field(default_factory=dict)
    settling: int = 0  # SMS numbers whose call's answer was lost, awaiting their status reports
    detail_kept_until: float = 0.0  # when the per-number detail goes (0: the campaign has not ended)
    detail_purged: bool = False  # the per-number detail is gone; these figures remain

    def notes(self) -> list[str]:
        """What the figures cannot say alone: SMS calls whose answer was lost, settled or not."""
        out = []
        if self.settling:
            out.append(
                f"{self.settling:,} SMS numbers await status reports: their call's answer was lost; "
                "confirmed by any report, sent again if none comes within the receipt timeout"
            )
        if unconfirmed := self.failed_by_reason.get(ChunkPath.UNCONFIRMED.value, 0):
            out.append(
                f"{unconfirmed:,} SMS numbers failed unconfirmed: their call's answer was lost and, without "
                "a receipts service, plain SMS is sent at most once (some may have been delivered)"
            )
        return out

    def detail_note(self) -> str:
        """What became of the per-number detail, in words ("" while the campaign runs)."""
        if self.detail_purged:
            return "per-number detail purged (retention); the summary above remains"
        if self.detail_kept_until:
            day = time.strftime("%Y-%m-%d", time.gmtime(self.detail_kept_until))
            return f"per-number detail kept until {day} (UTC), then purged; the summary remains"
        return ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def figures(self) -> list[tuple[str, int]]:
        """The console's import and resolution table with the send outcome, as (label, numbers) rows; the
        failures by reason follow "failed" (the one place they are listed)."""
        return [
            ("rows read", self.rows),
            ("导入号码总数(已去重) imported, de-duplicated", self.imported),
            ("重复 duplicates", self.duplicates),
            ("无效号码数 invalid", self.invalid),
            ("退订 suppressed (opted out)", self.suppressed),
            ("可解析 capable of smart messages", self.capable),
            ("不可解析 not capable", self.not_capable),
            ("provider-invalid (capability check)", self.provider_invalid),
            ("提交发送信息号码数 submitted", self.accepted),
            ("sent: smart", self.sent["smart"]),
            ("sent: plain SMS (fallback)", self.sent["sms"]),
            ("sent: basic edition (fallback)", self.sent["basic"]),
            ("skipped by policy", self.skipped),
            ("failed", self.failed),
            *((f"  failed: {reason}", count) for reason, count in self.failed_by_reason.items()),
            ("not sent (paused/cancelled)", self.unsent),
            ("awaiting status reports to settle (SMS)", self.settling),
            *((f"provider calls settled: {path}", calls) for path, calls in self.paths.items()),
        ]

    def used_channels(self) -> dict[str, Funnel]:
        """The funnels of channels this campaign submitted anything to."""
        return {channel: f for channel, f in self.funnel.items() if f.submitted}


def header_rows(r: Report) -> list[tuple[str, str]]:
    """(label, text) lines above the figures, for the terminal and the HTML page alike: what ran, when (in
    the campaign's zone), for how long, at what cost, and how many recipients had opted out."""
    t = r.timing
    rows = [("campaign", f"{r.name} ({r.campaign})")]
    if r.parent:
        rows.append(("trial send of" if trial.campaign_of(r.campaign) else "resend of", r.parent))
    ran = "took" if t.ended_at else "running for"
    since = "the first number sent" if t.first_sent_at else "submission"
    rows += [
        ("times in", zone_label(t)),
        ("submitted", shown(t.submitted_at)),
        ("first sent", shown(t.first_sent_at)),
        ("last sent", shown(t.last_sent_at)),
        ("ended", shown(t.ended_at) if t.ended_at else f"not yet ({r.state})"),
        ("duration", f"{duration(t.duration_seconds)} ({ran}, from {since})"),
        ("opted out", f"{r.suppressed:,} recipients on the opt-out list at submission, not sent to"),
    ]
    if r.opted_out_since is not None:
        rows.append(("", f"{r.opted_out_since:,} more opted out since (replied 退订)"))
    if r.cost is not None:
        rows.append(("cost", r.cost.describe()))
        rows += [("", r.cost.caveat)] if r.cost.caveat else []
    return rows


def _suffixed(c: Mapping[str, int], prefix: str) -> dict[str, int]:
    """Counters ``<prefix>:<rest>`` as {rest: value}, sorted by rest."""
    head = f"{prefix}:"
    return dict(sorted((k.removeprefix(head), v) for k, v in c.items() if k.startswith(head)))


def funnel(c: Mapping[str, int], channel: str) -> Funnel:
    """The funnel of ``channel`` from the campaign counters (the delivery ones come from status reports)."""
    accepted = c.get(f"sent:{channel}", 0)
    failed = c.get(f"failed_on:{channel}", 0)
    delivered = c.get(f"delivered:{channel}", 0)
    undelivered = c.get(f"undelivered:{channel}", 0)
    return Funnel(
        submitted=accepted + failed,
        accepted=accepted,
        delivered=delivered,
        undelivered=undelivered,
        awaiting=max(0, accepted - delivered - undelivered),
        failed=failed,
        undelivered_by_status=_suffixed(c, f"undelivered_status:{channel}"),
        failed_by_reason=_suffixed(c, f"failed_reason:{channel}"),
    )


async def build_report(
    redis: aioredis.Redis, cid: str, prices: PriceSettings | None = None, *, opt_outs: bool = False
) -> Report:
    """Read a campaign's record and counters; with ``prices`` what its accepted messages cost, with
    ``opt_outs`` how many recipients opted out since submission (reads every batch: not for a status that
    refreshes). Raises StateError for an unknown campaign."""
    record = await campaigns.load(redis, cid)
    kept = await retention.retention_of(redis, cid)
    purged = kept is not None and kept.purged(time.time())  # the batches are gone: no opt-outs to count
    c = await counters(redis, cid)
    counts = record.counts
    sent = {ch: c.get(f"sent:{ch}", 0) for ch in CHANNELS}
    accepted = counts.get("accepted", 0)
    skipped = c.get("skipped", 0)
    failed = c.get("failed", 0)
    done: int = await redis.scard(keys.batches_done(cid))  # type: ignore[misc]
    return Report(
        campaign=cid,
        name=record.spec.name,
        parent=trial.campaign_of(cid) or record.parent,
        state=record.state.value,
        reason=record.reason,
        timing=timing(record, c),
        rows=counts.get("rows", 0),
        imported=counts.get("imported", 0),
        duplicates=counts.get("duplicates", 0),
        invalid=counts.get("invalid", 0),
        suppressed=counts.get("suppressed", 0),
        accepted=accepted,
        capable=c.get("capable", 0),
        not_capable=c.get("not_capable", 0),
        provider_invalid=c.get("provider_invalid", 0),
        sent=sent,
        skipped=skipped,
        failed=failed,
        failed_by_reason=_suffixed(c, "failed"),
        failed_by_channel=_suffixed(c, "failed_on"),
        unsent=max(0, accepted - sum(sent.values()) - skipped - failed - c.get("settling", 0)),
        batches=record.batches,
        batches_done=done,
        in_flight=await open_chunks(redis, cid, record.batches),
        funnel={ch: funnel(c, ch) for ch in CHANNELS},
        timeline=await timeline.read(redis, cid, ZoneInfo(record.spec.schedule.timezone)),
        cost=None if prices is None else actual_cost(sent, counts, prices),
        opted_out_since=await opted_out_since(redis, cid, record.batches)
        if opt_outs and not purged
        else None,
        paths=_suffixed(c, "chunks"),
        settling=c.get("settling", 0),
        detail_kept_until=kept.purge_at if kept is not None else 0.0,
        detail_purged=purged,
    )
