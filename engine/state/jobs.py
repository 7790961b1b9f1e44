"""The jobs koodispatch puts in arq's queue (one per batch, deterministic ids; late fallbacks) and the
visibility of the jobs workers run.

Everything that enqueues goes through here, so the job ids, the functions they name and the scores that
order them are written in one place; ``workers/`` holds the functions that run them.

A running job is not left in arq's queue: :func:`hold` moves it to a running set with a deadline its worker
pushes ahead while it lives, and :func:`reap` puts a job whose deadline passed (its worker died or stalled)
back at the front of the queue. So the queue holds only jobs that may run, however many workers died or
run, and a dead worker's batch runs again within a visibility (``store/lua/hold_jobs.lua``).
"""

from __future__ import annotations

import time
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

import redis.asyncio as aioredis
from arq.constants import in_progress_key_prefix, job_key_prefix

from engine.state import campaigns
from engine.store import keys
from engine.store.scripts import load_script

if TYPE_CHECKING:
    from arq.connections import ArqRedis

    from engine.ingest.spec import CampaignSpec

BATCH_FUNCTION: Final = "dispatch_batch"
LATE_FUNCTION: Final = "late_fallback"
SETTLE_FUNCTION: Final = "settle_sms"
TAKEOVER_PRIORITY: Final = timedelta(hours=1)  # a reaped job is scored this far back: it runs next
REAP_PER_CALL: Final = 500  # lapsed jobs put back per script call (called again while there are more)
JOB_LIFETIME: Final = timedelta(days=1)  # a held job's arq job key outlives its last hold by this much


def job_id(cid: str, batch: int, generation: int) -> str:
    """Deterministic arq job id; the generation changes on resume so a batch can be queued again."""
    return f"{cid}:{batch}:{generation}"


def campaign_of_job(job: str) -> str | None:
    """The campaign of a batch job's id (``job_id``); None for any other job (late fallback, ...)."""
    cid, sep, rest = job.partition(":")
    batch, _, generation = rest.partition(":")
    return cid if sep and batch.isdigit() and generation.isdigit() else None


def late_job_id(cid: str, batch: int) -> str:
    """One late-fallback job per batch; enqueuing it again while it waits changes nothing."""
    return f"late:{cid}:{batch}"


def settle_job_id(cid: str, batch: int) -> str:
    """One settle job per batch (``engine/dispatch/settle.py``); it defers itself while chunks await."""
    return f"settle:{cid}:{batch}"


async def schedule_settle(redis: ArqRedis, cid: str, batch: int, at: float) -> bool:
    """Queue the settle job of a batch at ``at`` (unix seconds) unless it is queued or running already (it
    then looks at every awaiting chunk of the batch when it runs); True if newly queued."""
    when = datetime.fromtimestamp(at, UTC)
    job = await redis.enqueue_job(
        SETTLE_FUNCTION,
        cid,
        batch,
        _job_id=settle_job_id(cid, batch),
        _queue_name=keys.QUEUE,
        _defer_until=when,
    )
    return job is not None


async def settle_soon(redis: aioredis.Redis, cid: str, batch: int, members: Collection[str]) -> bool:
    """A status report came for a chunk of the batch: if any of ``members`` awaits its reports, the batch's
    queued settle job runs now instead of at its due (one that is running looks again anyway)."""
    pipe = redis.pipeline(transaction=False)
    for member in members:
        pipe.zscore(keys.awaiting(cid), member)
    if all(score is None for score in await pipe.execute()):
        return False
    now_ms = int(time.time() * 1000)
    job = {settle_job_id(cid, batch): now_ms}
    moved = await redis.zadd(keys.QUEUE, job, xx=True, lt=True, ch=True)
    return bool(moved)


def start_time(spec: CampaignSpec) -> datetime | None:
    """When a campaign's batches may first run: its start time while that is still ahead, else None."""
    start = spec.schedule.start_at
    return start if start is not None and start > datetime.now(UTC) else None


async def schedule_late(redis: ArqRedis, cid: str, batch: int) -> bool:
    """Queue the late fallback of a finished batch when its campaign asks for one; True if newly queued."""
    record = await campaigns.load(redis, cid)
    minutes = record.spec.fallback.after_minutes
    if minutes is None:
        return False
    job = await redis.enqueue_job(
        LATE_FUNCTION,
        cid,
        batch,
        _job_id=late_job_id(cid, batch),
        _queue_name=keys.QUEUE,
        _defer_by=timedelta(minutes=minutes),
    )
    return job is not None


def visibility(lease_seconds: float) -> float:
    """How long a running job stays out of the queue after its worker's last sign of life: a second beyond
    the batch lease, so a job put back finds its dead holder's lease lapsed rather than busy."""
    return lease_seconds + 1.0


async def hold(redis: aioredis.Redis, job_ids: Collection[str], seconds: float, *, start: bool) -> int:
    """Take started jobs out of the queue (``start``), or push the deadlines of running ones ahead; returns
    how many were held (a renewal misses a job reaped meanwhile: it is someone else's now)."""
    if not job_ids:
        return 0
    script = load_script(redis, "hold_jobs")
    args = [int(seconds * 1000), "start" if start else "renew", in_progress_key_prefix, job_key_prefix]
    lifetime = int(JOB_LIFETIME.total_seconds() * 1000)
    held: int = await script(keys=[keys.QUEUE, keys.RUNNING_JOBS], args=[*args, lifetime, *job_ids])
    return held


async def reap(redis: aioredis.Redis) -> list[str]:
    """Put every job whose deadline passed back at the front of the queue; returns their ids."""
    script = load_script(redis, "reap_jobs")
    front = int(TAKEOVER_PRIORITY.total_seconds() * 1000)
    requeued: list[str] = []
    while True:
        taken, *ids = await script(
            keys=[keys.QUEUE, keys.RUNNING_JOBS],
            args=[in_progress_key_prefix, job_key_prefix, front, REAP_PER_CALL],
        )
        requeued += [i.decode() for i in ids]
        if taken < REAP_PER_CALL:
            return requeued


async def release(redis: aioredis.Redis, job_id: str, score: int) -> None:
    """Put a running job back in the queue at the score it started with, before arq re-queues it for a
    retry (arq adds the retry's delay to the score it finds, reckoned from the start score)."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zrem(keys.RUNNING_JOBS, job_id)
        pipe.zadd(keys.QUEUE, {job_id: score})
        await pipe.execute()


async def ended(redis: aioredis.Redis, job_id: str) -> None:
    """A job finished (arq removed it from the queue): it leaves the running set."""
    await redis.zrem(keys.RUNNING_JOBS, job_id)
