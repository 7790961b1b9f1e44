"""Trial send (试发测试): a campaign's trial numbers get its message first, then it waits for ``resume``.

The trial is a campaign of its own, ``<cid>.trial`` (a dot never appears in a campaign id, so it cannot
collide with one), frozen at submission and sent through the very same path as every batch — resolver,
smart message if capable, else the campaign's fallback, journaled — so exactly once. Its counts, failures
and report are its own: the campaign's report counts only its list. A trial number that is also on the
list still gets the campaign's message (the console treats a trial send as a separate test the same way).

The campaign is created ``paused`` while its trial is sent and stays paused until an operator resumes it;
resume is refused until the trial has ended, and cancelling the campaign cancels its trial too. Freezing
the trial at submission is the planner's (``engine/plan/trial.py``): resume and cancel, which check it
here, do not import polars.
"""

from __future__ import annotations

import logging
from typing import Final

import redis.asyncio as aioredis
from redis.exceptions import WatchError

from engine.errors import StateError
from engine.state import campaigns, control
from engine.state.campaigns import CampaignRecord
from engine.store import keys
from engine.types import TERMINAL, CampaignState

log = logging.getLogger(__name__)
SUFFIX: Final = ".trial"
SENDING: Final = "sending the trial; resume after it to send to everyone"
SENT: Final = "trial sent; resume to send to everyone"


def trial_id(cid: str) -> str:
    """The id of the trial campaign of ``cid``."""
    return cid + SUFFIX


def campaign_of(cid: str) -> str | None:
    """The campaign a trial campaign belongs to; None when ``cid`` is not a trial."""
    return cid.removesuffix(SUFFIX) if cid.endswith(SUFFIX) else None


async def load(redis: aioredis.Redis, record: CampaignRecord) -> CampaignRecord | None:
    """The trial campaign of ``record``; None when it has none (or it was never frozen)."""
    tid = trial_id(record.cid)
    if not record.spec.schedule.trial_numbers or not await redis.exists(keys.campaign(tid)):
        return None
    return await campaigns.load(redis, tid)


async def _going(redis: aioredis.Redis, cid: str) -> CampaignState | None:
    """The state of the trial of ``cid`` while it is not over, else None; read without decoding a spec
    (resume and cancel start faster without the spec model), since only a frozen trial has a record."""
    tid = trial_id(cid)
    if not await redis.exists(keys.campaign(tid)):
        return None
    state = await campaigns.state_of(redis, tid)
    return None if state in TERMINAL else state


async def ensure_ended(redis: aioredis.Redis, cid: str) -> None:
    """Raise StateError while the trial of ``cid`` is not over: resuming now would send before it."""
    state = await _going(redis, cid)
    if state is not None:
        tid = trial_id(cid)
        raise StateError(
            f"campaign {cid}: its trial {tid} is {state.value}; resume once it has been sent "
            f"(or cancel {tid} to skip it)"
        )


async def cancel_with(redis: aioredis.Redis, cid: str) -> None:
    """Cancel the trial of a campaign that was cancelled, unless it is already over."""
    if await _going(redis, cid) is not None:
        await control.cancel(redis, trial_id(cid), reason=f"campaign {cid} cancelled")


async def completed(redis: aioredis.Redis, cid: str) -> None:
    """After campaign ``cid`` completed: if it was a trial, tell its campaign that it may be resumed.

    Conditional on the campaign still waiting for its trial, in one transaction, so it can never pause a
    campaign an operator resumed (or cancelled) in the meantime.
    """
    parent = campaign_of(cid)
    if parent is None:
        return
    key = keys.campaign(parent)
    async with redis.pipeline(transaction=True) as pipe:
        try:
            await pipe.watch(key)
            state, reason = await pipe.hmget(key, ["state", "reason"])  # type: ignore[misc]
            if state != CampaignState.PAUSED.value.encode() or reason != SENDING.encode():
                return
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.hset(key, "reason", SENT)
            await pipe.execute()
        except WatchError:
            return  # the campaign changed under us: an operator acted, nothing to tell
    log.info("campaign %s: trial sent; waiting for resume", parent)
