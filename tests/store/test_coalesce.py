"""Coalesced scripts against a real Redis: each caller gets its own answer, whatever shares its pipeline."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from engine.store.coalesce import CoalescedScript, Coalescer

ECHO = "if ARGV[1] == 'boom' then return redis.error_reply('boom') end return ARGV[1]"


async def test_concurrent_callers_each_get_their_own_result(redis_client: aioredis.Redis) -> None:
    echo = CoalescedScript(redis_client, redis_client.register_script(ECHO))
    answers = await asyncio.gather(*(echo(args=[f"v{i}"]) for i in range(50)))
    assert answers == [f"v{i}".encode() for i in range(50)]


async def test_an_error_reaches_only_its_caller(redis_client: aioredis.Redis) -> None:
    echo = CoalescedScript(redis_client, redis_client.register_script(ECHO))
    results = await asyncio.gather(
        echo(args=["a"]), echo(args=["boom"]), echo(args=["c"]), return_exceptions=True
    )
    assert results[0] == b"a" and results[2] == b"c"
    assert isinstance(results[1], ResponseError) and "boom" in str(results[1])


@pytest.mark.parametrize("callers", [1, 20])
async def test_scripts_flushed_by_the_server_are_loaded_again(
    redis_client: aioredis.Redis, callers: int
) -> None:
    echo = CoalescedScript(redis_client, redis_client.register_script(ECHO))
    assert await echo(args=["warm"]) == b"warm"
    await redis_client.script_flush()  # as after a Redis restart
    answers = await asyncio.gather(*(echo(args=[str(i)]) for i in range(callers)))
    assert answers == [str(i).encode() for i in range(callers)]


async def test_scripts_of_one_client_share_pipelines_with_each_other(redis_client: aioredis.Redis) -> None:
    """Two scripts on one client interleave and still answer in kind."""
    echo = CoalescedScript(redis_client, redis_client.register_script(ECHO))
    length = CoalescedScript(redis_client, redis_client.register_script("return string.len(ARGV[1])"))
    answers = await asyncio.gather(
        *(echo(args=["x" * i]) if i % 2 else length(args=["x" * i]) for i in range(10))
    )
    assert answers == [b"x" * i if i % 2 else i for i in range(10)]


async def test_scripts_started_while_a_pipeline_is_out_go_together_in_the_next(
    redis_client: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One pipeline in flight per client: the busier the worker, the more each round trip carries."""
    sent: list[int] = []
    execute = Coalescer._execute

    async def counted(self: Coalescer, calls: list[Any]) -> list[Any]:
        sent.append(len(calls))
        return await execute(self, calls)

    monkeypatch.setattr(Coalescer, "_execute", counted)
    busy = (  # 0.2 s of work in Redis: the first pipeline is out while the others are started
        "local t = redis.call('TIME') repeat local n = redis.call('TIME') "
        "until (n[1] - t[1]) * 1e6 + n[2] - t[2] > 200000 return 1"
    )
    slow = CoalescedScript(redis_client, redis_client.register_script(busy))
    echo = CoalescedScript(redis_client, redis_client.register_script(ECHO))
    first = asyncio.ensure_future(slow())
    later = []
    for i in range(20):  # each in an event-loop iteration of its own, while the slow one is out
        await asyncio.sleep(0)
        later.append(asyncio.ensure_future(echo(args=[str(i)])))
    assert await first == 1
    assert await asyncio.gather(*later) == [str(i).encode() for i in range(20)]
    assert sent == [1, 20]
