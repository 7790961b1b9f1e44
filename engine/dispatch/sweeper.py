"""The sweeper every worker runs: hands batches of dead workers to the queue within seconds, and stops the
worker when Redis came back empty.

arq alone re-runs a job of a killed worker only after ``job_timeout + 10 s``. A batch run registers itself in
``kd:running`` together with its lease (``engine/state/lease.py``); a run entry whose lease has expired
belongs to a worker that died or stalled past the TTL, so the sweeper claims it (one sweeper wins, by Lua) and
queues the batch again at the front, and frees the in-flight slots the holder's calls for that batch still
held. The fenced journal makes a stalled former holder harmless. A worker killed after arq marked a job in
progress but before the job took its lease leaves no run entry: such long-in-progress jobs without a lease are
queued again too.

Each Redis dataset carries a random ``kd:instance`` id, set by the first worker. If it changes or vanishes,
Redis restarted without persistence (or was flushed): campaign state is gone, so the worker stops with a
clear error instead of running anything again from zero.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Callable
from typing import get_args

from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix as ARQ_IN_PROGRESS
from redis.exceptions import RedisError

from engine.errors import StateLost
from engine.runtime.settings import DispatchSettings
from engine.state import campaigns, jobs
from engine.state.lease import run_field
from engine.store import keys
from engine.store.scripts import Scripts
from engine.types import CampaignState, Channel

log = logging.getLogger(__name__)
STUCK_SCAN = 128  # lowest-scored queue entries checked for jobs that lost their worker before starting
IN_FLIGHT = [keys.in_flight(channel) for channel in get_args(Channel)]  # where a dead holder's slots are
LOST = (
    "Redis lost its data (kd:instance changed or vanished: restarted without persistence, or flushed); "
    "campaign state is gone, so this worker stops instead of starting anything again from zero. "
    "Run Redis with appendonly yes (see README, Guarantees)."
)


async def claim_instance(redis: ArqRedis) -> str:
    """The id of the Redis dataset, created by the first worker that sees it."""
    await redis.set(keys.INSTANCE, uuid.uuid4().hex, nx=True)
    raw = await redis.get(keys.INSTANCE)
    return raw.decode() if isinstance(raw, bytes) else str(raw)


class Sweeper:
    """Takes over orphaned batches and watches the dataset id, every ``interval`` seconds."""

    def __init__(self, redis: ArqRedis, scripts: Scripts, settings: DispatchSettings) -> None:
        self.redis = redis
        self.scripts = scripts
        self.interval = settings.sweep_interval
        self.in_progress_ms = int((settings.job_timeout + 10) * 1000)  # arq's in-progress key lifetime
        self.stuck_after_ms = int(3 * settings.lease_seconds * 1000)
        self.instance = ""

    async def start(self) -> None:
        self.instance = await claim_instance(self.redis)

    async def run(self, on_lost: Callable[[StateLost], None]) -> None:
        """Sweep until cancelled; ``on_lost`` is called once if Redis lost its data, then the loop ends."""
        while True:
            try:
                await self.check_instance()
                await self.sweep()
            except StateLost as lost:
                log.critical("%s", lost)
                on_lost(lost)
                return
            except RedisError as exc:  # Redis restarting: the next round tries again
                log.warning("sweep failed (%s); retrying", exc)
            await asyncio.sleep(self.interval)

    async def check_instance(self) -> None:
        """Raise StateLost when the dataset id is not the one this worker started with."""
        if await self.redis.get(keys.INSTANCE) != self.instance.encode():
            raise StateLost(LOST)

    async def sweep(self) -> list[tuple[str, int]]:
        """Re-queue every batch whose holder died; returns the batches taken over."""
        return await self._lapsed_leases() + await self._stuck_jobs()

    async def _lapsed_leases(self) -> list[tuple[str, int]]:
        """Batch runs whose lease expired: the holder died or stalled past the TTL while running."""
        runs: dict[bytes, bytes] = await self.redis.hgetall(keys.RUNNING)  # type: ignore[misc]
        if not runs:
            return []
        targets = [(field.decode(), token.decode()) for field, token in runs.items()]
        pipe = self.redis.pipeline(transaction=False)
        for where, _ in targets:
            cid, batch = where.rsplit(":", 1)
            pipe.exists(keys.lease(cid, int(batch)))
        alive: list[int] = await pipe.execute()
        taken = []
        for (where, token), held in zip(targets, alive, strict=True):
            if held:
                continue
            cid, batch = where.rsplit(":", 1)
            number = int(batch)
            # queued before the claim: a sweeper killed in between leaves the run entry for another one,
            # whose enqueue of the same job id is then a no-op
            await jobs.enqueue_takeover(self.redis, cid, number, token.rsplit(":", 1)[-1])
            claimed, freed = await self.scripts.lease_orphan(
                keys=[keys.lease(cid, number), keys.RUNNING, *IN_FLIGHT], args=[token, where]
            )
            if claimed:
                log.warning(
                    "campaign %s batch %d: holder %s stopped renewing; taken over, %d in-flight slots freed",
                    cid,
                    number,
                    token,
                    freed,
                )
                taken.append((cid, number))
        return taken

    async def _stuck_jobs(self) -> list[tuple[str, int]]:
        """Batches whose every queued job is stuck "in progress" at a dead worker that never took the lease.

        arq would run such a job again only after ``job_timeout + 10 s``. A batch job takes its lease
        within milliseconds of starting, so a job in progress for a few lease TTLs while its batch has
        neither a lease nor a run entry, and is not finished, has lost its worker. A batch with any job
        still waiting, or only just started, will run without help. Several dead jobs may pile up for one
        batch (a takeover job can die before its lease too): the takeover's id is derived from all of them,
        so concurrent sweepers queue it once and a new death leads to a new takeover.
        """
        front = await self._front_batch_jobs()
        ages = await self._in_progress_ages(front)
        dead: dict[tuple[str, int], list[str]] = {}
        live: set[tuple[str, int]] = set()
        for (job, cid, number), age in zip(front, ages, strict=True):
            if age is None or age < self.stuck_after_ms:
                live.add((cid, number))
            else:
                dead.setdefault((cid, number), []).append(job)
        orphans = [batch for batch in dead if batch not in live]
        pipe = self.redis.pipeline(transaction=False)
        for cid, number in orphans:
            pipe.exists(keys.lease(cid, number))
            pipe.hexists(keys.RUNNING, run_field(cid, number))
            pipe.sismember(keys.batches_done(cid), str(number))
        answers = await pipe.execute() if orphans else []
        taken = []
        for k, (cid, number) in enumerate(orphans):
            if any(answers[3 * k : 3 * k + 3]):
                continue  # leased, running or finished
            if await campaigns.state_of(self.redis, cid) is not CampaignState.RUNNING:
                continue  # a resume queues the batch again under a new generation
            names = "|".join(sorted(dead[cid, number]))
            tag = "stuck-" + hashlib.blake2b(names.encode(), digest_size=4).hexdigest()
            if await jobs.enqueue_takeover(self.redis, cid, number, tag):
                log.warning("campaign %s batch %d: %s lost their worker before starting", cid, number, names)
                taken.append((cid, number))
        return taken

    async def _front_batch_jobs(self) -> list[tuple[str, str, int]]:
        """(job id, campaign, batch) of the lowest-scored batch jobs: arq runs jobs in score order, so jobs
        in progress are among them."""
        found = []
        for raw in await self.redis.zrange(keys.QUEUE, 0, STUCK_SCAN - 1):
            batch = jobs.batch_of_job(raw.decode())
            if batch is not None:
                found.append((raw.decode(), *batch))
        return found

    async def _in_progress_ages(self, front: list[tuple[str, str, int]]) -> list[int | None]:
        """Milliseconds each job has been in progress at some worker; None for a job still waiting."""
        pipe = self.redis.pipeline(transaction=False)
        for job, _, _ in front:
            pipe.pttl(ARQ_IN_PROGRESS + job)
        lifetimes: list[int] = await pipe.execute() if front else []
        return [self.in_progress_ms - left if left > 0 else None for left in lifetimes]
