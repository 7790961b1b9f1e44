"""arq WorkerSettings for koodispatch workers, built from engine Settings at start (never at import)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from arq.worker import func

from engine.dispatch.context import EngineContext
from engine.runtime.announce import provider_lines
from engine.runtime.settings import Settings
from engine.state import jobs
from engine.store import keys
from engine.store.connection import dumps, loads
from workers.context import KEY, WorkerContext, worker_context
from workers.jobs import dispatch_batch, late_fallback, settle_sms
from workers.upkeep import Upkeep
from workers.worker import Worker

log = logging.getLogger(__name__)

MAX_TRIES = 1_000_000  # a batch is never abandoned: Retry re-queues it until it finishes
# How often an idle worker looks for queued jobs: a submitted, resumed or taken-over batch starts within it.
# Each look is one ZRANGEBYSCORE; at 0.2 s (arq's 0.5 s is the default) a submission's first provider call
# came 0.063 s after it on average with two workers, at 0.05 s 0.033 s.
POLL_SECONDS = 0.05
ARQ_TIMEOUT_MARGIN = 60.0  # seconds arq's job timeout lies beyond dispatch.job_timeout


def worker_kwargs(settings: Settings, *, burst: bool = False) -> dict[str, Any]:
    """Keyword arguments for ``arq.worker.Worker``: the declarative settings of a koodispatch worker."""

    async def on_startup(ctx: dict[str, Any]) -> None:
        for line in provider_lines(settings):
            log.info("%s", line)
        engine = await EngineContext.open(settings, ctx["redis"])
        upkeep = Upkeep(ctx["redis"], settings.dispatch.lease_seconds, engine.clock)
        state = ctx[KEY] = WorkerContext(engine, upkeep)
        await upkeep.start()
        state.loop = asyncio.create_task(upkeep.run(state.stop))

    async def on_job_start(ctx: dict[str, Any]) -> None:
        await worker_context(ctx).upkeep.started(ctx["job_id"])

    async def after_job_end(ctx: dict[str, Any]) -> None:
        await worker_context(ctx).upkeep.ended(ctx["job_id"])

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        state: WorkerContext | None = ctx.get(KEY)
        if state is not None:
            await state.close()

    dispatch = settings.dispatch
    return {
        "functions": [
            func(dispatch_batch, name=jobs.BATCH_FUNCTION, max_tries=MAX_TRIES),
            func(late_fallback, name=jobs.LATE_FUNCTION, max_tries=MAX_TRIES),
            func(settle_sms, name=jobs.SETTLE_FUNCTION, max_tries=MAX_TRIES),
        ],
        "queue_name": keys.QUEUE,
        # no redis_settings: Worker.main opens the pool (open_queue, which takes a Sentinel URL too)
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "on_job_start": on_job_start,
        "after_job_end": after_job_end,
        "max_jobs": dispatch.worker_slots,
        # the job functions time themselves and queue the batch again (workers/jobs.py); arq's own timeout,
        # which would fail the job for good, is only a backstop behind theirs
        "job_timeout": dispatch.job_timeout + ARQ_TIMEOUT_MARGIN,
        "keep_result": 0,
        "job_serializer": dumps,
        "job_deserializer": loads,
        "burst": burst,
        "poll_delay": POLL_SECONDS,
        "handle_signals": True,
    }


def build_worker(settings: Settings, redis_url: str, *, burst: bool = False) -> Worker:
    """A ready-to-run worker (``workers/worker.py``)."""
    return Worker(
        redis_url,
        per_campaign=settings.dispatch.worker_concurrency,
        in_progress_seconds=jobs.visibility(settings.dispatch.lease_seconds),
        **worker_kwargs(settings, burst=burst),
    )
