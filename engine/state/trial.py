"""Trial send (试发测试): a campaign's trial numbers get its message first, then it waits for ``resume``.

The trial is a campaign of its own, ``<cid>.trial`` (a dot never appears in a campaign id, so it cannot
collide with one), frozen at submission and sent through the very same path as every batch — resolver,
smart message if capable, else the campaign's fallback, journaled — so exactly once. Its counts, failures
and report are its own: the campaign's report counts only its list. A trial number that is also on the
list still gets the campaign's message (the console treats a trial send as a separate test the same way).

The campaign is created ``paused`` while its trial is sent and stays paused until an operator resumes it;
resume is refused until the trial has ended, and cancelling the campaign cancels its trial too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import polars as pl
import redis.asyncio as aioredis
from redis.exceptions import WatchError

from engine.errors import InputError, StateError
from engine.ingest.recipients import load_suppression
from engine.ingest.spec import CampaignSpec
from engine.runtime.settings import Settings
from engine.state import campaigns, control
from engine.state.batches import write_batches
from engine.state.campaigns import CampaignRecord
from engine.store import keys
from engine.types import CampaignState

log = logging.getLogger(__name__)
SUFFIX: Final = ".trial"
SENDING: Final = "sending the trial; resume after it to send to everyone"
SENT: Final = "trial sent; resume to send to everyone"


@dataclass(frozen=True, slots=True)
class Trial:
    """A frozen trial campaign, ready to be queued: its id, batch count and numbers."""

    cid: str
    batches: int
    numbers: int


def trial_id(cid: str) -> str:
    """The id of the trial campaign of ``cid``."""
    return cid + SUFFIX


def campaign_of(cid: str) -> str | None:
    """The campaign a trial campaign belongs to; None when ``cid`` is not a trial."""
    return cid.removesuffix(SUFFIX) if cid.endswith(SUFFIX) else None


async def prepare(
    redis: aioredis.Redis, settings: Settings, cid: str, spec: CampaignSpec, chunks: Iterable[pl.DataFrame]
) -> Trial | None:
    """Freeze the trial campaign of ``cid`` without queuing it; None when the spec names no trial numbers.

    ``chunks`` are the campaign's accepted recipients (``Recipients.chunks``): a trial number on the list is
    sent with its own row's parameters, any other with the first row's, so the trial shows what recipients
    will see. Opted-out trial numbers are dropped; InputError when none is left. Idempotent, like the
    planner's own writes.
    """
    wanted = list(dict.fromkeys(spec.schedule.trial_numbers))
    if not wanted:
        return None
    blocked = await _suppressed(redis, spec, wanted)
    numbers = [n for n in wanted if n not in blocked]
    if not numbers:
        raise InputError("schedule.trial_numbers: every trial number is on the opt-out list")
    tid = trial_id(cid)
    batches = await write_batches(
        redis, tid, [_rows(chunks, numbers)], spec.param_columns(), settings.dispatch.batch_size
    )
    counts = {
        "rows": len(wanted),
        "imported": len(wanted),
        "invalid": 0,
        "duplicates": 0,
        "suppressed": len(wanted) - len(numbers),
        "accepted": len(numbers),
    }
    await campaigns.create(redis, tid, _trial_spec(spec), CampaignState.RUNNING, batches, counts)
    return Trial(tid, batches, len(numbers))


def _rows(chunks: Iterable[pl.DataFrame], numbers: list[str]) -> pl.DataFrame:
    """The trial's rows, in one pass over the accepted recipients (never all of them in memory)."""
    wanted = [int(n) for n in numbers]  # the chunks hold numbers as uint64
    own: dict[int, dict[str, object]] = {}
    sample: dict[str, object] | None = None
    for chunk in chunks:
        if sample is None and chunk.height:
            sample, schema = chunk.row(0, named=True), chunk.schema
        for row in chunk.filter(pl.col("mobile").is_in(wanted)).iter_rows(named=True):
            own.setdefault(row["mobile"], row)
    assert sample is not None, "a campaign has an accepted recipient"
    return pl.DataFrame([own.get(n, {**sample, "mobile": n}) for n in wanted], schema=schema)


def _trial_spec(spec: CampaignSpec) -> CampaignSpec:
    """The campaign's spec for its trial: sent at once (no start time), keeping the send window."""
    schedule = spec.schedule.model_copy(update={"start_at": None, "trial_numbers": ()})
    return spec.model_copy(update={"schedule": schedule})


async def _suppressed(redis: aioredis.Redis, spec: CampaignSpec, numbers: list[str]) -> set[str]:
    flags: list[int] = await redis.smismember(keys.SUPPRESSION, numbers)  # type: ignore[misc]
    blocked = {n for n, flag in zip(numbers, flags, strict=True) if flag}
    if spec.recipients.suppression_file is not None:
        blocked |= await asyncio.to_thread(load_suppression, spec.recipients.suppression_file)
    return blocked


async def load(redis: aioredis.Redis, record: CampaignRecord) -> CampaignRecord | None:
    """The trial campaign of ``record``; None when it has none (or it was never frozen)."""
    tid = trial_id(record.cid)
    if not record.spec.schedule.trial_numbers or not await redis.exists(keys.campaign(tid)):
        return None
    return await campaigns.load(redis, tid)


async def ensure_ended(redis: aioredis.Redis, cid: str) -> None:
    """Raise StateError while the trial of ``cid`` is not over: resuming now would send before it."""
    trial = await load(redis, await campaigns.load(redis, cid))
    if trial is not None and not trial.terminal:
        raise StateError(
            f"campaign {cid}: its trial {trial.cid} is {trial.state.value}; resume once it has been sent "
            f"(or cancel {trial.cid} to skip it)"
        )


async def cancel_with(redis: aioredis.Redis, cid: str) -> None:
    """Cancel the trial of a campaign that was cancelled, unless it is already over."""
    trial = await load(redis, await campaigns.load(redis, cid))
    if trial is not None and not trial.terminal:
        await control.cancel(redis, trial.cid, reason=f"campaign {cid} cancelled")


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
