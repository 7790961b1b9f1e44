"""Thin arq job functions: unpack the job, call the engine, report the outcome."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from arq import Retry
from redis.exceptions import RedisError

from engine.dispatch import late
from engine.dispatch.batch_run import dispatch_batch as run_batch
from engine.dispatch.outcomes import JobResult
from engine.errors import StateLost
from engine.runtime import logs, metrics
from engine.state import jobs
from workers.context import worker_context

log = logging.getLogger(__name__)
BUSY_RETRY_SECONDS = 2.0
INFRA_RETRY_SECONDS = 3.0  # Redis unreachable beyond the client's own retries
LATE_RETRY_SECONDS = 30.0  # a paused campaign or a provider outage: look again later


@contextlib.asynccontextmanager
async def guarded(ctx: dict[str, Any], cid: str, batch: int) -> AsyncIterator[None]:
    """A job never loses its batch to an infrastructure error, and a wiped Redis stops the worker.

    arq fails a job for good on any exception but Retry, so a Redis that stayed away longer than the client
    retries would drop the batch: such errors re-queue the job instead. StateLost (Redis came back empty)
    stops the whole worker, not only the job that saw it.
    """
    try:
        yield
    except StateLost as lost:
        worker_context(ctx).stop(lost)
        raise
    except (RedisError, OSError) as exc:
        log.warning("campaign %s batch %d: %s; trying again in %.0fs", cid, batch, exc, INFRA_RETRY_SECONDS)
        raise Retry(defer=INFRA_RETRY_SECONDS) from exc


async def dispatch_batch(ctx: dict[str, Any], cid: str, batch: int) -> dict[str, Any]:
    """Run one batch; if another worker holds it, try again shortly (it may die and be swept)."""
    engine = worker_context(ctx).engine
    logs.bind(cid, batch)
    started = time.monotonic()
    async with guarded(ctx, cid, batch):
        outcome = await run_batch(engine, cid, batch, queued_at=float(ctx.get("score") or 0))
    metrics.batch_finished(outcome.result, time.monotonic() - started)
    if outcome.result is JobResult.BUSY:
        raise Retry(defer=BUSY_RETRY_SECONDS)
    if outcome.result is JobResult.FINISHED:
        await jobs.schedule_late(ctx["redis"], cid, batch)
    log.info("campaign %s batch %d: %s (campaign %s)", cid, batch, outcome.result, outcome.campaign_state)
    if outcome.retry_in is not None:  # the send window is closed: the job waits in the queue until it opens
        raise Retry(defer=outcome.retry_in)
    return {"result": outcome.result, "state": outcome.campaign_state}


async def late_fallback(ctx: dict[str, Any], cid: str, batch: int) -> dict[str, Any]:
    """The fallback for a batch's smart messages still undelivered ``after_minutes`` after it finished."""
    async with guarded(ctx, cid, batch):
        outcome = await late.late_fallback(worker_context(ctx).engine, cid, batch)
    if outcome.retry:
        raise Retry(defer=LATE_RETRY_SECONDS)
    log.info("campaign %s batch %d late fallback: %s (%d)", cid, batch, outcome.result, outcome.numbers)
    return {"result": outcome.result, "numbers": outcome.numbers}
