"""Campaign control: pause, resume, cancel, checked before every provider call and broadcast to workers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

import redis.asyncio as aioredis

from engine.errors import Halt, StateError, StateLost, WindowClosed
from engine.state import campaigns, window
from engine.store import keys
from engine.types import CampaignState

if TYPE_CHECKING:
    from engine.ingest.spec import ScheduleSpec


class StateView:
    """One process's view of campaign states, read from Redis at most every ``ttl`` seconds per campaign.

    Every provider call passes a checkpoint (several per call with retries); a short-lived per-process copy
    keeps that to a few Redis reads per second while pause and cancel still halt every worker's batches
    within ``ttl`` plus one call's latency. Sends do not wait for it: their admission reads the state itself
    (``Progress.mark``), so none leaves once a pause is in Redis. When the copy says "running" but is
    stale, the checkpoints that find it so share one read in flight (dozens of calls of a busy worker find
    it stale at once). Only "running" is taken from the copy or a shared read; any other state is read
    again, by the checkpoint itself, before it halts a batch. ``clock`` (aware datetimes) decides the send
    window; tests replace it.
    """

    def __init__(
        self, redis: aioredis.Redis, ttl: float = 0.25, clock: Callable[[], datetime] = window.utc_now
    ) -> None:
        self.redis = redis
        self.ttl = ttl
        self.clock = clock
        self._seen: dict[str, tuple[float, CampaignState]] = {}
        self._reading: dict[str, asyncio.Future[tuple[float, CampaignState]]] = {}

    async def checkpoint(self, cid: str, schedule: ScheduleSpec | None = None) -> None:
        """Raise Halt unless the campaign is running; called right before each provider call.

        With the campaign's ``schedule``, raise WindowClosed outside its start time and send window.
        """
        now = time.monotonic()
        seen = self._seen.get(cid)
        if seen is None or now - seen[0] > self.ttl or seen[1] is not CampaignState.RUNNING:
            if seen is None or seen[1] is CampaignState.RUNNING:
                seen = await self._shared_read(cid)
            # a halt is never taken from the copy or another checkpoint's read: a job queued by a resume
            # must not stop on the pause before it
            if seen[1] is not CampaignState.RUNNING:
                seen = await self._read(cid)
        if seen[1] is not CampaignState.RUNNING:
            raise Halt(cid, seen[1])
        if schedule is not None:
            self.check_window(cid, schedule)

    async def _shared_read(self, cid: str) -> tuple[float, CampaignState]:
        """The read of ``cid``'s state in flight, or a new one; shielded, so one caller's cancellation
        does not fail the others."""
        reading = self._reading.get(cid)
        if reading is None:
            reading = self._reading[cid] = asyncio.ensure_future(self._read(cid))
            reading.add_done_callback(partial(self._read_done, cid))
        return await asyncio.shield(reading)

    def _read_done(self, cid: str, reading: asyncio.Future[tuple[float, CampaignState]]) -> None:
        del self._reading[cid]
        if not reading.cancelled():
            reading.exception()  # retrieved here too: every caller may have been cancelled meanwhile

    async def _read(self, cid: str) -> tuple[float, CampaignState]:
        """Read the state from Redis now and keep it as the copy."""
        started = time.monotonic()
        try:
            state = await campaigns.state_of(self.redis, cid)
        except StateError as gone:  # a checkpoint only runs inside a batch of a campaign that existed
            raise StateLost(f"campaign {cid}: state vanished from Redis mid-batch; stopping") from gone
        self._seen[cid] = seen = (started, state)
        return seen

    def check_window(self, cid: str, schedule: ScheduleSpec) -> None:
        """Raise WindowClosed outside the campaign's start time and send window."""
        opens_at = window.next_opening(schedule, self.clock())
        if opens_at is not None:
            raise WindowClosed(cid, opens_at)


async def _announce(redis: aioredis.Redis, cid: str, state: CampaignState) -> None:
    await redis.publish(keys.CONTROL_CHANNEL, f"{cid}:{state.value}")


async def pause(
    redis: aioredis.Redis, cid: str, reason: str = "paused by operator", generation: int | None = None
) -> CampaignState:
    """Stop sending: once this returns no send is admitted (the admission reads the state, ``rate.lua``), and
    every worker halts the batch at its next checkpoint; returns the previous state.

    ``generation`` makes the pause conditional on no resume having happened since (see campaigns.transition).
    """
    previous = await campaigns.transition(redis, cid, CampaignState.PAUSED, reason, generation=generation)
    await _announce(redis, cid, CampaignState.PAUSED)
    return previous


async def cancel(redis: aioredis.Redis, cid: str, reason: str = "cancelled by operator") -> CampaignState:
    """Stop for good; numbers not yet sent stay unsent and the report says so."""
    previous = await campaigns.transition(redis, cid, CampaignState.CANCELLED, reason)
    await _announce(redis, cid, CampaignState.CANCELLED)
    return previous


async def resume(redis: aioredis.Redis, cid: str) -> CampaignState:
    """Continue a paused campaign where it stopped; the caller re-enqueues its unfinished batches."""
    previous = await campaigns.transition(redis, cid, CampaignState.RUNNING, bump_generation=True)
    await _announce(redis, cid, CampaignState.RUNNING)
    return previous
