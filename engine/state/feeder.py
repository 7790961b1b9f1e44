"""The feeder: a campaign's batches wait in its backlog and are dispensed to arq's queue a window at a time.

With every batch of a big campaign queued at once, arq (which runs jobs in score order and reads only the
front of its queue) would start a campaign submitted later only once the first drained. Dispensed a window
at a time, every running campaign has batches running, and the shared rate budget decides who sends
(``store/lua/feed_campaign.lua``). Any process may feed any campaign: submission feeds the new one at once,
every worker feeds all of them every couple of seconds and a campaign again as one of its jobs ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import redis.asyncio as aioredis
from arq.constants import job_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms

from engine.state import jobs
from engine.state.progress import unfinished
from engine.store import keys
from engine.store.connection import dumps
from engine.store.scripts import load_script

PER_CALL: Final = 1000  # batches written to a backlog per command
DEFAULT_WINDOW: Final = 32  # batch jobs of a campaign queued or running at once, when its record names none
_SENTINEL: Final = 987_654_321_987  # stands for the batch number in a serialized payload


def _payload(cid: str) -> tuple[bytes, bytes]:
    """A batch job's serialized payload around its batch number: arq's own format, our serializer."""
    raw = serialize_job(jobs.BATCH_FUNCTION, (cid, _SENTINEL), {}, None, timestamp_ms(), serializer=dumps)
    prefix, _, suffix = raw.partition(str(_SENTINEL).encode())
    return prefix, suffix


async def add(redis: aioredis.Redis, cid: str, batches: Iterable[int], submitted: float) -> None:
    """Put batches in a campaign's backlog and list the campaign for feeding (idempotent)."""
    numbers = list(batches)
    for start in range(0, len(numbers), PER_CALL):
        group = numbers[start : start + PER_CALL]
        await redis.zadd(keys.backlog(cid), {str(n): n for n in group})
    await redis.zadd(keys.FEEDING, {cid: submitted}, nx=True)


async def feed(redis: aioredis.Redis, cid: str, window: int = DEFAULT_WINDOW) -> list[int]:
    """Dispense batch jobs of ``cid`` up to its window (the campaign's own, else ``window``; counting those
    queued or running), deferred to its start time if that is ahead; returns the batches dispensed now."""
    script = load_script(redis, "feed_campaign")
    prefix, suffix = _payload(cid)
    lifetime = int(jobs.JOB_LIFETIME.total_seconds() * 1000)
    names = [keys.QUEUE, keys.campaign(cid), keys.backlog(cid), keys.dispensed(cid)]
    names += [keys.batches_done(cid), keys.FEEDING]
    args: list[int | str | bytes] = [window, job_key_prefix, lifetime, timestamp_ms(), cid, prefix, suffix]
    fed: list[bytes] = await script(keys=names, args=args)
    return [int(batch) for batch in fed]


async def feed_all(redis: aioredis.Redis, window: int = DEFAULT_WINDOW) -> dict[str, list[int]]:
    """Feed every campaign listed for feeding, oldest first; returns what was dispensed, per campaign."""
    fed = {}
    for raw in await redis.zrange(keys.FEEDING, 0, -1):
        cid = raw.decode()
        batches = await feed(redis, cid, window)
        if batches:
            fed[cid] = batches
    return fed


async def restock(redis: aioredis.Redis, cid: str, batches: int, created_at: float) -> int:
    """Put every unfinished batch of the ``batches`` of ``cid`` that is neither in the backlog nor dispensed
    back in the backlog, and list the campaign for feeding (at ``created_at``, its place among the others):
    a campaign submitted again or resumed gets any batch it lost; returns how many."""
    pending = await unfinished(redis, cid, batches)
    out = {int(batch) for _, batch in await redis.zrange(keys.dispensed(cid), 0, -1, withscores=True)}
    missing = [n for n in pending if n not in out]
    added = 0
    for start in range(0, len(missing), PER_CALL):
        group = missing[start : start + PER_CALL]
        added += await redis.zadd(keys.backlog(cid), {str(n): n for n in group}, nx=True)
    await redis.zadd(keys.FEEDING, {cid: created_at}, nx=True)
    return added
