"""Thin arq job functions: unpack the job, call the engine, report the outcome."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from arq import Retry
from redis.exceptions import RedisError

from engine.dispatch import late, settle
from engine.dispatch.batch_run import dispatch_batch as run_batch
from engine.dispatch.outcomes import JobResult
from engine.errors import StateLost
from engine.runtime import logs, metrics
from engine.state import jobs
from engine.types import CampaignState
from workers.context import worker_context

log = logging.getLogger(__name__)
BUSY_RETRY_SECONDS = 2.0
INFRA_RETRY_SECONDS = 3.0  # Redis unreachable beyond the client's own retries
LATE_RETRY_SECONDS = 30.0  # a paused campaign or a provider outage: look again later
SETTLED_MARGIN_SECONDS = 2.0  # a late job looks again this long after its SMS chunks are due to settle
BUG_RETRY_SECONDS = 30.0  # an unexpected error: logged, and the batch tried again (never dropped)


async def retry(ctx: dict[str, Any], seconds: float) -> Retry:
    """The Retry to raise so arq runs the job again in ``seconds``: the job goes back into the queue first
    (it left it when it started, ``workers/upkeep.py``)."""
    await worker_context(ctx).upkeep.requeue(ctx["job_id"], ctx["score"])
    return Retry(defer=seconds)


@contextlib.asynccontextmanager
async def guarded(ctx: dict[str, Any], cid: str, batch: int) -> AsyncIterator[None]:
    """However a run ends, its batch stays queued unless the run settled it, and a wiped Redis stops the
    worker.

    arq fails a job for good on any exception but Retry, and drops a cancelled one it finds outside its
    queue, so every other way out puts the job back: an infrastructure error (Redis away longer than the
    client retries), a run longer than ``dispatch.job_timeout``, a bug (logged), a shutdown. A Redis that
    is away as the job is put back leaves it in the running set, from which it is reaped once Redis is
    back. StateLost (Redis came back empty) stops the whole worker, not only the job that saw it.
    """
    state = worker_context(ctx)
    try:
        async with asyncio.timeout(state.engine.settings.dispatch.job_timeout):
            yield
    except StateLost as lost:
        state.stop(lost)
        raise
    except Retry:
        raise
    except asyncio.CancelledError:  # worker shutdown: arq runs the job again if it finds it queued
        with contextlib.suppress(RedisError, OSError):
            await asyncio.shield(state.upkeep.requeue(ctx["job_id"], ctx["score"]))
        raise
    except TimeoutError as late:
        log.error("campaign %s batch %d: ran past dispatch.job_timeout; queued again", cid, batch)
        raise await retry(ctx, 0) from late
    except (RedisError, OSError) as exc:
        log.warning("campaign %s batch %d: %s; trying again in %.0fs", cid, batch, exc, INFRA_RETRY_SECONDS)
        with contextlib.suppress(RedisError, OSError):
            raise await retry(ctx, INFRA_RETRY_SECONDS) from exc
        raise Retry(defer=INFRA_RETRY_SECONDS) from exc
    except Exception as bug:
        log.exception("campaign %s batch %d: failed; trying again in %.0fs", cid, batch, BUG_RETRY_SECONDS)
        raise await retry(ctx, BUG_RETRY_SECONDS) from bug


async def _settle_later(ctx: dict[str, Any], cid: str, batch: int, at: float | None) -> None:
    """Queue the settle job of a batch with SMS chunks awaiting their reports (inside ``guarded``: a run
    that could not queue it runs again, finds them in the journal and queues it then)."""
    if at is not None:
        await jobs.schedule_settle(ctx["redis"], cid, batch, at)


async def dispatch_batch(ctx: dict[str, Any], cid: str, batch: int) -> dict[str, Any]:
    """Run one batch; if another worker holds it (or took it over), try again shortly: it may die."""
    engine = worker_context(ctx).engine
    logs.bind(cid, batch)
    started = time.monotonic()
    async with guarded(ctx, cid, batch):
        outcome = await run_batch(engine, cid, batch, queued_at=float(ctx["score"]))
        await _settle_later(ctx, cid, batch, outcome.settle_at)
    metrics.batch_finished(outcome.result, time.monotonic() - started)
    log.info("campaign %s batch %d: %s (campaign %s)", cid, batch, outcome.result, outcome.campaign_state)
    if outcome.result in (JobResult.BUSY, JobResult.LEASE_LOST):
        raise await retry(ctx, BUSY_RETRY_SECONDS)
    if outcome.retry_in is not None:  # the send window is closed: the job waits in the queue until it opens
        raise await retry(ctx, outcome.retry_in)
    if outcome.result is JobResult.FINISHED:
        await jobs.schedule_late(ctx["redis"], cid, batch)
    return {"result": outcome.result, "state": outcome.campaign_state}


async def late_fallback(ctx: dict[str, Any], cid: str, batch: int) -> dict[str, Any]:
    """The fallback for a batch's smart messages still undelivered ``after_minutes`` after it finished."""
    async with guarded(ctx, cid, batch):
        outcome = await late.late_fallback(worker_context(ctx).engine, cid, batch)
        await _settle_later(ctx, cid, batch, outcome.settle_at)
    if outcome.retry_in is not None:  # reports of the batch are still being recorded
        raise await retry(ctx, outcome.retry_in)
    if outcome.retry:
        raise await retry(ctx, LATE_RETRY_SECONDS)
    if outcome.settle_at is not None:  # some of its SMS await their reports: it ends once they are settled
        raise await retry(ctx, max(0.0, outcome.settle_at - time.time()) + SETTLED_MARGIN_SECONDS)
    log.info("campaign %s batch %d late fallback: %s (%d)", cid, batch, outcome.result, outcome.numbers)
    return {"result": outcome.result, "numbers": outcome.numbers}


async def settle_sms(ctx: dict[str, Any], cid: str, batch: int) -> dict[str, Any]:
    """Settle a batch's plain-SMS chunks whose answer was lost; runs again while some still await reports."""
    async with guarded(ctx, cid, batch):
        outcome = await settle.settle_sms(worker_context(ctx).engine, cid, batch)
    if outcome.result is JobResult.BUSY:
        raise await retry(ctx, BUSY_RETRY_SECONDS)
    if outcome.result is JobResult.POSTPONED:  # paused, an outage or a lost lease: look again later
        raise await retry(ctx, LATE_RETRY_SECONDS)
    if outcome.settle_at is not None:
        raise await retry(ctx, max(0.0, outcome.settle_at - time.time()))
    if outcome.campaign_state is CampaignState.COMPLETED:
        log.info("campaign %s completed: its last SMS chunk awaiting reports is settled", cid)
    return {"result": outcome.result, "state": outcome.campaign_state}
