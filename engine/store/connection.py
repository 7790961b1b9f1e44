"""The arq connection shared by submitters and workers, with orjson job serialisation (never pickle).

``url`` is a ``redis://`` (``rediss://``, ``unix://``) URL, or a ``redis+sentinel://`` one: then every
connection finds the primary through the sentinels (``engine/store/sentinel.py``), and a failover is ridden
out by the same retries as a restart.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from arq.connections import ArqRedis, RedisSettings, create_pool
from redis.asyncio.client import Pipeline, Redis
from redis.asyncio.connection import ConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, TimeoutError

from engine.store import keys
from engine.store.sentinel import SentinelAddress, sentinel_pool
from engine.types import is_sentinel_url


def dumps(value: Any) -> bytes:
    """Job and result serialiser; unknown objects (e.g. exceptions in results) become their str()."""
    return orjson.dumps(value, default=str)


def loads(data: bytes) -> Any:
    return orjson.loads(data)


REDIS_RETRIES = 60  # with the backoff cap below: a Redis restart of about a minute is ridden out
CONNECT_TIMEOUT = 5.0


def _retry() -> Retry:
    # OSError too: a refused connection while Redis restarts surfaces as ConnectionRefusedError on connect
    errors = (ConnectionError, TimeoutError, OSError)
    return Retry(ExponentialBackoff(cap=1.0, base=0.05), REDIS_RETRIES, errors)  # type: ignore[arg-type]


def redis_settings(url: str) -> RedisSettings:
    """arq connection settings for a ``redis://`` ``url``, retrying while Redis restarts.

    Every command is retried on a dropped connection. That is safe because every write the engine makes is
    idempotent: journal and counters change in Lua scripts that do nothing the second time, and a
    rate-budget charge made twice only slows sending down for a moment.
    """
    settings = RedisSettings.from_dsn(url)
    settings.conn_retries = 30
    settings.conn_retry_delay = 1
    settings.retry = _retry()
    settings.retry_on_error = [ConnectionError, TimeoutError]
    return settings


def check_url(url: str) -> None:
    """Raise ValueError (or RuntimeError) when ``url`` cannot name a Redis, as the workers will read it."""
    if is_sentinel_url(url):
        SentinelAddress.parse(url)
    else:
        redis_settings(url)  # arq's parse


class _Pipeline(Pipeline):
    """redis-py's pipeline, with a reset that gives its connection back even when its task is cancelled."""

    async def reset(self) -> None:
        """redis-py ends a WATCH with an UNWATCH round trip before it returns the connection to the pool; a
        task cancelled during that round trip kept the connection, and asyncio logged "Unclosed Pipeline
        client" when the pipeline was collected. arq takes every job under WATCH, and SIGTERM cancels it
        wherever it is: shielded, the reset finishes whatever happens to the task that asked for it."""
        if self.watching:
            await asyncio.shield(super().reset())  # type: ignore[no-untyped-call]
        else:  # nothing to wait for: the connection goes straight back to the pool
            await super().reset()  # type: ignore[no-untyped-call]


class Queue(ArqRedis):
    """An ArqRedis whose pipelines survive the cancellation of their task (see ``_Pipeline``)."""

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> Pipeline:
        return _Pipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)


async def open_queue(url: str) -> ArqRedis:
    """A Queue on ``url`` that enqueues jobs in koodispatch's format; the workers' pool too. Connecting is
    retried as arq retries it (``redis_settings``), through a failover too with a Sentinel ``url``."""
    queue = Queue(
        await _pool(url), job_serializer=dumps, job_deserializer=loads, default_queue_name=keys.QUEUE
    )
    queue.auto_close_connection_pool = True  # the pool is its own: closing the Queue closes it
    return queue


async def _pool(url: str) -> ConnectionPool:
    """A pool on ``url`` that has connected once (arq's ``create_pool`` pings, retrying, as here)."""
    if not is_sentinel_url(url):
        return (await create_pool(redis_settings(url))).connection_pool
    pool = sentinel_pool(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT,
        retry=_retry(),
        retry_on_error=[ConnectionError, TimeoutError],
    )
    try:
        await Redis(connection_pool=pool).ping()
    except BaseException:
        await pool.disconnect()
        raise
    return pool
