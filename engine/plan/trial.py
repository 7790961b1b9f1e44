"""Freezing a campaign's trial send at submission (its rules once frozen: ``engine/state/trial.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl
import redis.asyncio as aioredis

from engine.errors import InputError
from engine.ingest.recipients import load_suppression
from engine.ingest.spec import CampaignSpec
from engine.runtime.settings import Settings
from engine.state import campaigns
from engine.state.batches import write_batches
from engine.state.trial import trial_id
from engine.store import keys
from engine.types import CampaignState


@dataclass(frozen=True, slots=True)
class Trial:
    """A frozen trial campaign, ready to be queued: its id, batch count and numbers."""

    cid: str
    batches: int
    numbers: int


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
