"""The jobs koodispatch puts in arq's queue: one per batch (deterministic ids), takeovers and late fallbacks.

Everything that enqueues goes through here, so the job ids, the functions they name and the scores that
order them are written in one place; ``workers/`` holds the functions that run them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Final

from arq.connections import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms, to_unix_ms

from engine.ingest.spec import CampaignSpec
from engine.state import campaigns
from engine.state.campaigns import CampaignRecord
from engine.state.progress import unfinished
from engine.store import keys
from engine.store.scripts import load_script

BATCH_FUNCTION: Final = "dispatch_batch"
LATE_FUNCTION: Final = "late_fallback"
ENQUEUE_PER_CALL: Final = 500  # jobs queued per script call
TAKEOVER: Final = ":takeover:"  # in the job id of a batch queued again because its worker died
TAKEOVER_PRIORITY: Final = timedelta(hours=1)  # a taken-over batch is scored this far back: it runs next


def job_id(cid: str, batch: int, generation: int) -> str:
    """Deterministic arq job id; the generation changes on resume so a batch can be queued again."""
    return f"{cid}:{batch}:{generation}"


def late_job_id(cid: str, batch: int) -> str:
    """One late-fallback job per batch; enqueuing it again while it waits changes nothing."""
    return f"late:{cid}:{batch}"


def batch_of_job(job: str) -> tuple[str, int] | None:
    """(campaign id, batch) of a batch job's id (``job_id`` or a takeover's); None for any other job."""
    cid, _, rest = job.partition(":")
    batch = rest.partition(":")[0]
    return (cid, int(batch)) if cid != "late" and batch.isdigit() else None


def start_time(spec: CampaignSpec) -> datetime | None:
    """When a campaign's batches may first run: its start time while that is still ahead, else None."""
    start = spec.schedule.start_at
    return start if start is not None and start > datetime.now(UTC) else None


async def enqueue(
    redis: ArqRedis, cid: str, batches: Iterable[int], generation: int, defer_until: datetime | None = None
) -> int:
    """Queue one job per batch; returns how many were newly queued (existing job ids are skipped).

    ENQUEUE_PER_CALL jobs per call of ``enqueue_jobs.lua``, which does what arq's ``enqueue_job`` does for
    each (same job and result keys, same serialized job, same score and lifetime) in one round trip, where
    arq needs a WATCH/MULTI transaction of several per job.
    """
    script = load_script(redis, "enqueue_jobs")
    now = timestamp_ms()
    score = to_unix_ms(defer_until) if defer_until is not None else now
    lifetime = score - now + redis.expires_extra_ms
    numbers, queued = list(batches), 0
    for start in range(0, len(numbers), ENQUEUE_PER_CALL):
        group = numbers[start : start + ENQUEUE_PER_CALL]
        ids = [job_id(cid, number, generation) for number in group]
        job_keys = [key for id_ in ids for key in (job_key_prefix + id_, result_key_prefix + id_)]
        jobs = (
            serialize_job(BATCH_FUNCTION, (cid, number), {}, None, now, serializer=redis.job_serializer)
            for number in group
        )
        args = [value for id_, job in zip(ids, jobs, strict=True) for value in (id_, score, job)]
        queued += await script(keys=[keys.QUEUE, *job_keys], args=[lifetime, *args])
    return queued


async def enqueue_takeover(redis: ArqRedis, cid: str, batch: int, tag: str) -> bool:
    """Queue a batch whose worker died, ahead of every batch queued in the last hour.

    ``tag`` (from the dead holder's token) makes the job id unique per takeover; the dead worker's own arq
    job only becomes runnable again after arq's ``job_timeout + 10 s`` and then finds the batch finished.
    """
    job = await redis.enqueue_job(
        BATCH_FUNCTION,
        cid,
        batch,
        _job_id=f"{cid}:{batch}{TAKEOVER}{tag}",
        _queue_name=keys.QUEUE,
        _defer_until=datetime.now(UTC) - TAKEOVER_PRIORITY,
    )
    return job is not None


async def queue_unfinished(redis: ArqRedis, record: CampaignRecord) -> int:
    """Queue the unfinished batches of a campaign under its current generation; returns jobs queued."""
    pending = await unfinished(redis, record.cid, record.batches)
    return await enqueue(redis, record.cid, pending, record.generation, start_time(record.spec))


async def requeue(redis: ArqRedis, cid: str) -> int:
    """Queue the unfinished batches of a running campaign again (after resume); returns jobs queued."""
    return await queue_unfinished(redis, await campaigns.load(redis, cid))


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
