"""The arq connection shared by submitters and workers, with orjson job serialisation (never pickle)."""

from __future__ import annotations

from typing import Any

import orjson
from arq.connections import ArqRedis, RedisSettings, create_pool
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, TimeoutError


def dumps(value: Any) -> bytes:
    """Job and result serialiser; unknown objects (e.g. exceptions in results) become their str()."""
    return orjson.dumps(value, default=str)


def loads(data: bytes) -> Any:
    return orjson.loads(data)


REDIS_RETRIES = 60  # with the backoff cap below: a Redis restart of about a minute is ridden out


def redis_settings(url: str) -> RedisSettings:
    """arq connection settings for ``url``, retrying while Redis restarts.

    Every command is retried on a dropped connection. That is safe because every write the engine makes is
    idempotent: journal and counters change in Lua scripts that do nothing the second time, and a
    rate-budget charge made twice only slows sending down for a moment.
    """
    settings = RedisSettings.from_dsn(url)
    settings.conn_retries = 30
    settings.conn_retry_delay = 1
    # OSError too: a refused connection while Redis restarts surfaces as ConnectionRefusedError on connect
    errors = (ConnectionError, TimeoutError, OSError)
    settings.retry = Retry(ExponentialBackoff(cap=1.0, base=0.05), REDIS_RETRIES, errors)  # type: ignore[arg-type]
    settings.retry_on_error = [ConnectionError, TimeoutError]
    return settings


async def open_queue(url: str) -> ArqRedis:
    """An ArqRedis pool (a redis.asyncio.Redis) that enqueues jobs in koodispatch's format."""
    return await create_pool(redis_settings(url), job_serializer=dumps, job_deserializer=loads)
