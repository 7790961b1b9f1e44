"""Late fallback does not freeze its list while kept receipts of its batch wait to be recorded (a task of
the batch in ``kd:receipts:ready``): it looks again shortly, up to the receipt timeout past its due time,
then goes on and says so."""

from __future__ import annotations

import logging
import time
from types import SimpleNamespace
from typing import Any

import pytest
import redis.asyncio as aioredis

from engine.dispatch.late import DRAIN_RETRY_SECONDS, LateRun
from engine.runtime.settings import load_settings
from engine.store import keys
from engine.store.scripts import Scripts

CID, BATCH, AFTER_MINUTES, TIMEOUT = "late-drain", 2, 1.0, 30.0


def late_run(redis: aioredis.Redis) -> LateRun:
    """A late run of batch BATCH: only what deciding to wait reads (no provider, no lease is used)."""
    settings = load_settings(dispatch={"sms_receipt_timeout_seconds": TIMEOUT})
    ctx: Any = SimpleNamespace(redis=redis, settings=settings, scripts=Scripts(redis))
    record: Any = SimpleNamespace(
        cid=CID, spec=SimpleNamespace(fallback=SimpleNamespace(after_minutes=AFTER_MINUTES))
    )
    return LateRun(ctx, record, SimpleNamespace(number=BATCH), SimpleNamespace(token="t"))  # type: ignore[arg-type]


async def ready(redis: aioredis.Redis, batch: int, since: float) -> None:
    await redis.hset(keys.RECEIPTS_READY, f"task-{batch}", f"{CID}:{batch}:smart:0 {since:.0f}")  # type: ignore[misc]


async def test_nothing_kept_for_the_batch_goes_on(redis_client: aioredis.Redis) -> None:
    await ready(redis_client, BATCH + 1, time.time())  # another batch's task
    assert await late_run(redis_client).drain_wait() is None


async def test_a_ready_task_of_the_batch_defers_until_drained(redis_client: aioredis.Redis) -> None:
    await ready(redis_client, BATCH, time.time() - AFTER_MINUTES * 60)  # mapped before the batch ended
    assert await late_run(redis_client).drain_wait() == DRAIN_RETRY_SECONDS
    await redis_client.hdel(keys.RECEIPTS_READY, f"task-{BATCH}")  # type: ignore[misc]
    assert await late_run(redis_client).drain_wait() is None


async def test_past_the_bound_it_goes_on_with_a_warning(
    redis_client: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    await ready(redis_client, BATCH, time.time() - AFTER_MINUTES * 60 - TIMEOUT - 1)
    with caplog.at_level(logging.WARNING, "engine.dispatch.late"):
        assert await late_run(redis_client).drain_wait() is None
    assert "still not recorded" in caplog.text


async def test_a_list_frozen_before_is_not_held_up(redis_client: aioredis.Redis) -> None:
    await ready(redis_client, BATCH, time.time())
    await redis_client.set(keys.late(CID, BATCH), b"")
    assert await late_run(redis_client).drain_wait() is None
