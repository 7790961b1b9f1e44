"""The arq connection shared by submitters and workers, with orjson job serialisation (never pickle)."""

from __future__ import annotations

from typing import Any

import orjson
from arq.connections import ArqRedis, RedisSettings, create_pool


def dumps(value: Any) -> bytes:
    """Job and result serialiser; unknown objects (e.g. exceptions in results) become their str()."""
    return orjson.dumps(value, default=str)


def loads(data: bytes) -> Any:
    return orjson.loads(data)


def redis_settings(url: str) -> RedisSettings:
    """arq connection settings for ``url``, retrying while Redis restarts."""
    settings = RedisSettings.from_dsn(url)
    settings.conn_retries = 30
    settings.conn_retry_delay = 1
    return settings


async def open_queue(url: str) -> ArqRedis:
    """An ArqRedis pool (a redis.asyncio.Redis) that enqueues jobs in koodispatch's format."""
    return await create_pool(redis_settings(url), job_serializer=dumps, job_deserializer=loads)
