"""arq WorkerSettings for koodispatch workers, built from engine Settings at start (never at import)."""

from __future__ import annotations

from typing import Any

from arq.worker import Worker, func

from engine import keys
from engine.context import EngineContext
from engine.lease import Leases
from engine.queue import dumps, loads, redis_settings
from engine.settings import Settings
from workers.jobs import dispatch_batch

MAX_TRIES = 1_000_000  # a batch is never abandoned: Retry re-queues it until it finishes


def worker_kwargs(settings: Settings, redis_url: str, *, burst: bool = False) -> dict[str, Any]:
    """Keyword arguments for ``arq.worker.Worker``: the declarative settings of a koodispatch worker."""

    async def on_startup(ctx: dict[str, Any]) -> None:
        ctx["engine"] = await EngineContext.open(settings, ctx["redis"])
        ctx["leases"] = Leases(ctx["redis"])

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        engine: EngineContext | None = ctx.get("engine")
        if engine is not None:
            await engine.close()

    dispatch = settings.dispatch
    return {
        "functions": [func(dispatch_batch, name="dispatch_batch", max_tries=MAX_TRIES)],
        "queue_name": keys.QUEUE,
        "redis_settings": redis_settings(redis_url),
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "max_jobs": dispatch.worker_concurrency,
        "job_timeout": dispatch.job_timeout,
        "keep_result": 0,
        "job_serializer": dumps,
        "job_deserializer": loads,
        "burst": burst,
        "poll_delay": 0.2,
        "handle_signals": True,
    }


def build_worker(settings: Settings, redis_url: str, *, burst: bool = False) -> Worker:
    """A ready-to-run arq Worker."""
    return Worker(**worker_kwargs(settings, redis_url, burst=burst))
