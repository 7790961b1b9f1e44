"""Campaign control: pause, resume, cancel, checked before every provider call and broadcast to workers."""

from __future__ import annotations

import redis.asyncio as aioredis

from engine import campaigns, keys
from engine.errors import DispatchError
from engine.records import CampaignState


class Halt(DispatchError):
    """Raised at a checkpoint when the campaign must not send now (paused, cancelled, finished)."""

    def __init__(self, cid: str, state: CampaignState) -> None:
        super().__init__(f"campaign {cid} is {state.value}")
        self.state = state


async def checkpoint(redis: aioredis.Redis, cid: str) -> None:
    """Raise Halt unless the campaign is running; called right before each provider call.

    One HGET per call keeps pause/cancel effective within one call's latency on every worker.
    """
    state = await campaigns.state_of(redis, cid)
    if state is not CampaignState.RUNNING:
        raise Halt(cid, state)


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
