"""The capability cache: verdicts shared by every process through one append-only Redis list per UTC day,
looked up in each process' own copy."""

from __future__ import annotations

import math
import random
import time

from arq.connections import ArqRedis

from engine.resolve.capability_cache import CapabilityCache
from engine.resolve.verdict_records import DAY, MERGE_WAY
from engine.store import keys


def at(redis: ArqRedis, moment: float, ttl: float = 24 * 3600) -> CapabilityCache:
    """A cache whose clock stands at ``moment``, as a process of its own (its own copy of the lists)."""
    return CapabilityCache(redis, ttl, clock=lambda: moment)


async def test_the_cache_looks_in_the_day_before_only_for_verdicts_it_may_hold(arq_redis: ArqRedis) -> None:
    """Lookups go back a day while the TTL reaches into it: a verdict from yesterday evening is found this
    morning, with or without a list for today, and none once the TTL has passed."""
    day = int(time.time()) // DAY * DAY  # today's UTC midnight: the lists expire after real time
    evening, early, morning = day - 4 * 3600, day + 5 * 3600, day + 6 * 3600
    await at(arq_redis, evening).put({"c": ["13800000001"]})
    assert await at(arq_redis, morning).get(["13800000001", "13800000002"]) == {"13800000001": "c"}
    await at(arq_redis, early).put({"n": ["13800000002"]})
    assert await at(arq_redis, morning).get(["13800000003", "13800000002", "13800000001"]) == {
        "13800000001": "c",
        "13800000002": "n",
    }
    assert await at(arq_redis, day + 3 * DAY).get(["13800000001", "13800000002"]) == {}  # out of the TTL


async def test_the_capability_cache_survives_its_connection_being_dropped(arq_redis: ArqRedis) -> None:
    """The cache sends its own packed commands on pooled connections: one Redis closed is replaced."""
    cache = CapabilityCache(arq_redis, 3600)
    await cache.put({"c": ["13800000001"], "n": ["13800000002"]})
    killed = await arq_redis.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "no")
    assert killed >= 1
    assert await cache.get(["13800000003", "13800000002", "13800000001"]) == {
        "13800000001": "c",
        "13800000002": "n",
    }


async def test_a_process_finds_what_others_wrote_after_it_last_looked(arq_redis: ArqRedis) -> None:
    """Each process reads only the records appended since its last lookup, its own writes included."""
    now = time.time()
    first, second = at(arq_redis, now), at(arq_redis, now)
    assert await first.get(["13800000001"]) == {}
    await second.put({"c": ["13800000001"], "n": ["13800000002"]})
    assert await first.get(["13800000002", "13800000001"]) == {"13800000001": "c", "13800000002": "n"}
    await first.put({"x": ["13800000003"]})
    assert await second.get(["13800000003", "13800000004"]) == {"13800000003": "x"}
    assert await first.get(["13800000003"]) == {"13800000003": "x"}
    assert await arq_redis.llen(keys.CAP_CACHE + str(int(now) // DAY)) == 2  # type: ignore[misc]


async def test_the_newest_verdict_of_a_number_wins_within_a_day_and_across_days(arq_redis: ArqRedis) -> None:
    day = int(time.time()) // DAY * DAY
    reader = at(arq_redis, day + 12 * 3600)
    await at(arq_redis, day - 3600).put({"n": ["13800000001"]})  # yesterday
    await at(arq_redis, day + 3600).put({"c": ["13800000001"], "n": ["13800000002"]})
    assert await reader.get(["13800000001", "13800000002"]) == {"13800000001": "c", "13800000002": "n"}
    await at(arq_redis, day + 7200).put({"c": ["13800000002"]})
    await at(arq_redis, day + 7300).put({"n": ["13800000001"]})
    assert await reader.get(["13800000001", "13800000002"]) == {"13800000001": "n", "13800000002": "c"}


async def test_lookups_agree_with_a_plain_dict_over_many_writes_from_several_processes(
    arq_redis: ArqRedis,
) -> None:
    """Hundreds of writes of overlapping numbers from three processes, each lookup checked against a dict
    of every number's latest verdict; a process' sorted runs stay logarithmic in its records."""
    rng = random.Random(7)
    start = int(time.time()) // DAY * DAY + 60
    processes = [at(arq_redis, start) for _ in range(3)]
    latest: dict[str, str] = {}
    for step in range(300):
        writer = rng.choice(processes)
        writer.clock = lambda step=step: start + step  # every write a second after the one before
        numbers = rng.sample(range(13800000000, 13800003000), rng.randint(1, 60))
        verdicts: dict[str, list[str]] = {"c": [], "n": []}
        for number in map(str, numbers):
            verdict = rng.choice("cn")
            verdicts[verdict].append(number)
            latest[number] = verdict
        await writer.put(verdicts)
        if step % 7 == 0:
            reader = rng.choice(processes)
            asked = [str(n) for n in rng.sample(range(13799999000, 13800004000), 400)]
            assert await reader.get(asked) == {n: latest[n] for n in asked if n in latest}
    for process in processes:
        held = process.days[start // DAY]
        assert held.held > 0
        assert len(held.runs) < MERGE_WAY * (math.log(held.held, MERGE_WAY) + 1)  # merged as they came


async def test_a_process_reads_a_day_again_when_redis_lost_its_list(arq_redis: ArqRedis) -> None:
    """A list shorter than what a process read of it was lost with Redis' data: the process drops its copy
    and reads the new list from the start, instead of skipping its first records."""
    now = time.time()
    reader = at(arq_redis, now)
    for number in ("13800000001", "13800000002", "13800000003"):
        await at(arq_redis, now).put({"c": [number]})
    assert len(await reader.get(["13800000001"])) == 1
    await arq_redis.flushdb()
    await at(arq_redis, now).put({"n": ["13800000009"]})
    assert await reader.get(["13800000001", "13800000009"]) == {"13800000009": "n"}


async def test_a_ttl_of_zero_switches_the_cache_off(arq_redis: ArqRedis) -> None:
    off = CapabilityCache(arq_redis, 0)
    await off.put({"c": ["13800000001"]})
    assert await off.get(["13800000001"]) == {}
    assert [k async for k in arq_redis.scan_iter(match=f"{keys.CAP_CACHE}*")] == []
