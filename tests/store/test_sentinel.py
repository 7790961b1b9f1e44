"""Redis through Sentinel on loopback: the primary found, and found again after a failover, by every client.

A primary, its replica and one sentinel (real redis-server processes, Debian's 7.0 when installed). The
first sentinel of the URL is down, so every discovery passes it by, as when a sentinel host is lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from functools import partial

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from engine.cli.common import connection
from engine.errors import Unreplicated
from engine.runtime.redis_address import sentinel_url
from engine.runtime.redis_server import RedisServer, free_port
from engine.state.instance import InstanceWatch
from engine.store.coalesce import CoalescedScript, require_replicas
from engine.store.connection import open_queue
from engine.store.scripts import Scripts, load_script
from engine.store.sentinel import SentinelAddress, discover_primary
from tests.dispatch.crashes import wait_until
from tests.sentinels import MASTER, SentinelGroup

pytestmark = pytest.mark.slow


def test_the_url_reads_back_as_it_was_made() -> None:
    url = sentinel_url(" 10.0.0.1:26379, sentinel-b:26380 ,[::1]:5", "my/master", "p@ss:/", "s&=?")
    address = SentinelAddress.parse(url)
    assert address.sentinels == (("10.0.0.1", 26379), ("sentinel-b", 26380), ("::1", 5))
    assert (address.master, address.db, address.password, address.sentinel_password) == (
        "my/master",
        0,
        "p@ss:/",
        "s&=?",
    )
    for bad in ("redis+sentinel:///mymaster", "redis+sentinel://h:x/m", "redis+sentinel://h:1/m?db=2"):
        with pytest.raises(ValueError):
            SentinelAddress.parse(bad)


@pytest.fixture
def group() -> Iterator[SentinelGroup]:
    servers = SentinelGroup.build("127.0.0.1", ["127.0.0.1"], ["127.0.0.1"])
    try:
        servers.start()
        yield servers
    finally:
        servers.close()


def url_of(group: SentinelGroup) -> str:
    """The group's URL with a sentinel that is down in front of the live one."""
    sentinels = ",".join(f"{s.host}:{s.port}" for s in group.sentinels)
    dead = f"127.0.0.1:{free_port()}"
    return sentinel_url(f"{dead},{sentinels}", MASTER, group.primary.password, group.sentinel_password)


async def direct(server: RedisServer) -> aioredis.Redis:
    return aioredis.Redis(host=server.host, port=server.port, password=server.password)


async def named(group: SentinelGroup, server: RedisServer, max_wait: float = 30.0) -> None:
    """Wait until the sentinels name ``server`` the primary and it says it is one."""
    deadline = time.monotonic() + max_wait
    while time.monotonic() < deadline:
        if await discover_primary(group.address, 1.0) == (server.host, server.port):
            client = await direct(server)
            try:
                if (await client.execute_command("ROLE"))[0] == b"master":
                    return
            finally:
                await client.aclose()
        await asyncio.sleep(0.1)
    raise AssertionError(f"{server.port} was not made the primary within {max_wait}s")


async def failed_over(sentinel: aioredis.Redis) -> bool:
    """Ask ``sentinel`` for a failover; False while it has not checked the replica yet (NOGOODSLAVE)."""
    try:
        await sentinel.execute_command("SENTINEL", "FAILOVER", MASTER)
    except ResponseError as exc:
        if not str(exc).startswith("NOGOODSLAVE"):
            raise
        return False
    return True


async def replicated(group: SentinelGroup) -> None:
    """Wait until the replica holds every write the primary acknowledged so far."""
    client = await direct(group.primary)
    try:
        assert await client.execute_command("WAIT", 1, 10_000) == 1
    finally:
        await client.aclose()


@pytest.fixture
async def queue(group: SentinelGroup) -> AsyncIterator[aioredis.Redis]:
    redis = await open_queue(url_of(group))
    try:
        yield redis
    finally:
        await redis.aclose()


async def test_the_primary_is_found_through_the_sentinels(
    group: SentinelGroup, queue: aioredis.Redis
) -> None:
    await queue.set("k", "v")
    primary = await direct(group.primary)
    try:
        assert await primary.get("k") == b"v"
    finally:
        await primary.aclose()
    async with connection(url_of(group)) as cli:  # the CLI's plain connection
        assert await cli.get("k") == b"v"


async def test_commands_go_on_at_the_promoted_replica_after_the_primary_is_killed(
    group: SentinelGroup, queue: aioredis.Redis
) -> None:
    scripts = Scripts(queue)
    watch = InstanceWatch(queue)
    await watch.start()
    await queue.set("before", "1")
    await replicated(group)
    group.primary.stop(kill=True)
    # sent while no primary answers: retried until the sentinels promoted the replica
    await asyncio.gather(
        queue.set("after", "2"), scripts.mark_in_flight(keys=["lease", "journal"], args=["", "f", "{}"])
    )
    assert (await queue.execute_command("ROLE"))[0] == b"master"
    assert await queue.mget("before", "after") == [b"1", b"2"]
    await named(group, group.replica)
    await watch.check()  # the promoted replica holds the dataset: not taken for a Redis that lost its data


async def test_a_demoted_primary_answers_readonly_and_the_client_moves_to_the_new_one(
    group: SentinelGroup, queue: aioredis.Redis
) -> None:
    await queue.set("before", "1")  # the pool holds a connection to the primary
    await replicated(group)
    sentinel = aioredis.Redis(
        host=group.sentinels[0].host, port=group.sentinels[0].port, password=group.sentinel_password
    )
    try:
        await wait_until(partial(failed_over, sentinel), "the sentinel found no replica to promote", 20)
    finally:
        await sentinel.aclose()
    await named(group, group.replica)
    old = await direct(group.primary)
    try:  # as the sentinels do a few seconds later: a write there is now answered READONLY
        await old.execute_command("REPLICAOF", group.replica.host, group.replica.port)
    finally:
        await old.aclose()
    await queue.set("after", "2")
    new = await direct(group.replica)
    try:
        assert await new.mget("before", "after") == [b"1", b"2"]
    finally:
        await new.aclose()


async def test_a_durable_run_is_confirmed_by_the_replicas_or_refused(
    group: SentinelGroup, queue: aioredis.Redis
) -> None:
    """A provider call's in_flight mark is a durable run: refused (Unreplicated, the call is not made) when
    fewer replicas than required hold it; other runs of the same pipeline are not affected."""
    mark = CoalescedScript(queue, load_script(queue, "mark_in_flight"))
    await queue.set("lease", "me")

    async def journal(field: str, durable: bool) -> object:
        return await mark(
            keys=["lease", "journal"], args=["me", field, '{"state":"in_flight"}'], durable=durable
        )

    require_replicas(queue, 1, 1.0)  # there is one
    assert await asyncio.gather(journal("a", True), journal("b", False)) == [1, 1]
    require_replicas(queue, 2, 0.1)  # there is not a second one
    refused, plain = await asyncio.gather(journal("c", True), journal("d", False), return_exceptions=True)
    assert isinstance(refused, Unreplicated) and plain == 1
    assert await queue.hkeys("journal") == [
        b"a",
        b"b",
        b"c",
        b"d",
    ]  # written all the same: the caller retries
    require_replicas(queue, 0, 1.0)  # none required: no WAIT, nothing refused
    assert await journal("e", True) == 1
