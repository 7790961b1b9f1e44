"""Campaign control: pause, resume, cancel, checked before every provider call and broadcast to workers."""

from __future__ import annotations

import time

import redis.asyncio as aioredis

from engine import campaigns, keys
from engine.errors import DispatchError
from engine.records import CampaignState


class Halt(DispatchError):
    """Raised at a checkpoint when the campaign must not send now (paused, cancelled, finished)."""

    def __init__(self, cid: str, state: CampaignState) -> None:
        super().__init__(f"campaign {cid} is {state.value}")
        self.state = state


class StateView:
    """One process's view of campaign states, read from Redis at most every ``ttl`` seconds per campaign.

    Every provider call passes a checkpoint (several per call with retries); a short-lived per-process copy
    keeps that to a few Redis reads per second while pause and cancel still reach every worker within
    ``ttl`` plus one call's latency.
    """

    def __init__(self, redis: aioredis.Redis, ttl: float = 0.25) -> None:
        self.redis = redis
        self.ttl = ttl
        self._seen: dict[str, tuple[float, CampaignState]] = {}

    async def checkpoint(self, cid: str) -> None:
        """Raise Halt unless the campaign is running; called right before each provider call."""
        now = time.monotonic()
        seen = self._seen.get(cid)
        if seen is None or now - seen[0] > self.ttl:
            seen = (now, await campaigns.state_of(self.redis, cid))
            self._seen[cid] = seen
        if seen[1] is not CampaignState.RUNNING:
            raise Halt(cid, seen[1])


async def _announce(redis: aioredis.Redis, cid: str, state: CampaignState) -> None:
    await redis.publish(keys.CONTROL_CHANNEL, f"{cid}:{state.value}")


async def pause(redis: aioredis.Redis, cid: str, reason: str = "paused by operator") -> CampaignState:
    """Stop sending at the next checkpoint of every worker; returns the previous state."""
    previous = await campaigns.transition(redis, cid, CampaignState.PAUSED, reason)
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
