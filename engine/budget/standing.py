"""Where a campaign stands: its batches on the way to a worker, and its share of each channel it sends on.

``koodispatch status`` says what a running campaign waits for: batches in its backlog and in the queue
(and how many jobs of other campaigns are ahead of its next one), and, per channel it is asking for now,
the rate its share gives it next to the campaigns asking with it, as the admission computes it (the same
``store/lua/shares.lua``, read-only).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import redis.asyncio as aioredis

from engine.budget.limiter import ASKING_SECONDS
from engine.runtime.ranges import RATE
from engine.runtime.settings import RateSettings
from engine.store import keys
from engine.store.scripts import load_script
from engine.types import CHANNELS, PRIORITIES, Channel, Priority


@dataclass(frozen=True, slots=True)
class Sharer:
    """A campaign asking for a channel now, with the rate its share gives it (numbers per second)."""

    cid: str
    priority: Priority
    weight: float
    cap: float | None
    rate: float


@dataclass(frozen=True, slots=True)
class Share:
    """A channel's budget as shared now: its rate and everyone asking for it, highest class first."""

    channel: Channel
    rate: float
    sharers: tuple[Sharer, ...]

    def of(self, cid: str) -> Sharer | None:
        return next((s for s in self.sharers if s.cid == cid), None)

    def note(self, cid: str) -> str:
        """``smart 45% (normal, weight 1, with 2 others)``, or what holds a lower class back."""
        mine = self.of(cid)
        if mine is None:
            return ""
        part = f"{self.channel} {mine.rate / self.rate:.0%}" if self.rate else self.channel
        others = len(self.sharers) - 1
        ahead = [s for s in self.sharers if PRIORITIES.index(s.priority) < PRIORITIES.index(mine.priority)]
        if ahead:
            classes = "/".join(sorted({s.priority for s in ahead}, key=PRIORITIES.index))
            sends = "campaign sends" if len(ahead) == 1 else "campaigns send"
            return f"{part} ({mine.priority}: the minimum share while {len(ahead)} {classes} {sends})"
        if mine.cap is not None and mine.rate >= mine.cap * 0.999:
            return f"{part} (at its own cap, {mine.cap:g}/s)"
        with_others = f", with {others} other{'s' if others != 1 else ''}" if others else ""
        return f"{part} ({mine.priority}, weight {mine.weight:g}{with_others})"


@dataclass(frozen=True, slots=True)
class Standing:
    """A campaign's place in line now."""

    backlog: int  # batches waiting in its backlog (engine/state/feeder.py)
    queued: int  # its batch jobs in the queue, waiting for a worker
    running: int  # its batch jobs on a worker
    ahead: int  # jobs of other campaigns queued before its next one
    shares: dict[Channel, Share] = field(default_factory=dict)  # channels it is asking for now

    def note(self, cid: str) -> str:
        """One line: ``smart 45% (normal, weight 1, with 2 others); 12 batches running, 20 queued, ...``."""
        parts = [share.note(cid) for share in self.shares.values()]
        jobs_line = f"{self.running} batches running, {self.queued} queued"
        if self.queued and self.ahead:
            jobs_line += f" behind {self.ahead} of other campaigns"
        if self.backlog:
            jobs_line += f", {self.backlog} waiting"
        return "; ".join([*filter(None, parts), jobs_line])


async def standing(redis: aioredis.Redis, cid: str, min_share: float | None = None) -> Standing:
    """Where ``cid`` stands now (``min_share``: the setting the workers use, default the model's)."""
    dispensed = [raw.decode() for raw in await redis.zrange(keys.dispensed(cid), 0, -1)]
    async with redis.pipeline(transaction=False) as pipe:
        for job in dispensed:
            pipe.zscore(keys.QUEUE, job)
            pipe.zscore(keys.RUNNING_JOBS, job)
        scores = await pipe.execute()
    queued = [score for score in scores[::2] if score is not None]
    running = sum(score is not None for score in scores[1::2])
    ahead = await redis.zcount(keys.QUEUE, "-inf", f"({min(queued)}") if queued else 0
    backlog: int = await redis.zcard(keys.backlog(cid))
    shares = {}
    for channel in CHANNELS:
        share = await channel_share(redis, channel, min_share)
        if share.of(cid) is not None:
            shares[channel] = share
    return Standing(backlog, len(queued), running, ahead, shares)


async def channel_share(redis: aioredis.Redis, channel: Channel, min_share: float | None = None) -> Share:
    """Who asks for ``channel`` now and the rate each one's share gives it."""
    defaults = RateSettings()
    stored = await redis.hget(keys.rate(channel), "rate")  # type: ignore[misc]
    rate = float(stored) if stored is not None else float(getattr(defaults, channel))
    share = defaults.min_share if min_share is None else min_share
    script = load_script(redis, "peek_shares")
    names = [keys.rate_active(channel), keys.TENANTS]
    raw = await script(keys=names, args=[channel, rate, share, ASKING_SECONDS, RATE.low, RATE.high])
    flat = [item.decode() if isinstance(item, bytes) else str(item) for item in raw]
    sharers = tuple(
        Sharer(cid, PRIORITIES[int(rank)], float(weight), float(cap) if cap else None, float(given))
        for cid, rank, weight, cap, given in zip(*[iter(flat)] * 5, strict=True)
    )
    return Share(channel, rate, sharers)
