"""Crash-exact delivery with real processes: kill -9 of workers, provider faults, Redis restarts.

The simulator's ledger is the judge: every number gets exactly one message per channel, and the report
agrees with the ledger.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from engine import api
from engine.runtime.redis_server import RedisServer
from engine.state.records import ChunkRecord
from engine.store import keys
from engine.types import CampaignState
from tests.dispatch.crashes import FAST_TAKEOVER, Fleet, assert_exact, reset, started, wait_sent, wait_until
from tests.processes import sim_get, sim_post, wait_for, workers

pytestmark = pytest.mark.slow


async def test_kill_9_at_20_random_moments_loses_and_duplicates_nothing(
    tmp_path: Path, redis_url: str, simulator_thread: Any
) -> None:
    sim = simulator_thread
    reset(sim)
    rates = {"KOODISPATCH_RATES__SMART": "2500", "KOODISPATCH_RATES__BASIC": "1500"}
    rng = random.Random(5)
    kills = 0
    async with started(redis_url, sim.url, tmp_path, 110_000, 21, **rates, **FAST_TAKEOVER) as run:
        assert run.truth.imported >= 100_000
        fleet = Fleet(run.env, tmp_path)
        try:
            for _ in range(3):
                fleet.spawn()
            await wait_sent(run.redis, run.cid, 1)
            while kills < 22:
                await asyncio.sleep(rng.uniform(0.3, 1.5))
                if (await api.campaign_report(run.cid, redis=run.redis)).state == "completed":
                    break
                fleet.kill_one(rng)
                fleet.spawn()
                kills += 1
            report = await wait_for(run.redis, run.cid, max_wait=400)
        finally:
            fleet.stop()
    assert kills >= 20, f"the campaign ended after only {kills} kills: make it longer"
    assert_exact(sim, run.truth, report)


async def test_a_worker_restarted_alone_after_kill_9_gets_the_dead_workers_slots_back_at_takeover(
    tmp_path: Path, redis_url: str, simulator_thread: Any
) -> None:
    """The killed worker held every in-flight slot of the capability channel, and a call's lifetime (how
    long an untagged slot stays held) is 303 s here: its successor, alone, gets them back when it
    takes the batches over, and completes the campaign exactly long before that."""
    sim = simulator_thread
    slots = 4
    env = {
        **FAST_TAKEOVER,
        "KOODISPATCH_RATES__MAX_IN_FLIGHT": str(slots),
        "KOODISPATCH_PROVIDER__READ_TIMEOUT": "300",
    }
    reset(sim, channel_faults={"capability": {"latency_ms": [2000, 2000]}})  # checks stay in flight
    try:
        async with started(redis_url, sim.url, tmp_path, 2_000, 9, batch_size=500, **env) as run:
            fleet = Fleet(run.env, tmp_path)
            try:
                fleet.spawn()
                checks = keys.in_flight("capability")

                async def full() -> bool:
                    return bool(await run.redis.zcard(checks) >= slots)

                await wait_until(full, "the first worker did not fill the in-flight cap", max_wait=60)
                held = {token.decode() for token in await run.redis.zrange(checks, 0, -1)}
                holders = {token.decode() for token in await run.redis.hvals(keys.RUNNING)}  # type: ignore[misc]
                assert {token.rpartition("#")[0] for token in held} <= holders  # tagged with batch leases
                fleet.kill_one(random.Random(0))
                fleet.spawn()
                report = await wait_for(run.redis, run.cid, max_wait=120)
                left = {token.decode() for token in await run.redis.zrange(checks, 0, -1)}
            finally:
                fleet.stop()
    finally:
        sim_post(sim, "/_simulator/config", {"channel_faults": {"capability": None}})
    assert not held & left, "the dead worker's slots were not freed"
    assert_exact(sim, run.truth, report)


async def test_fault_matrix_completes_exactly(tmp_path: Path, redis_url: str, simulator_thread: Any) -> None:
    """5 % 5xx, 2 % timeouts, 2 % answers lost after accept, 429 bursts, and an outage: 0 dup, 0 missing."""
    sim = simulator_thread
    faults = {
        "error_share": 0.05,
        "timeout_share": 0.02,
        "timeout_sleep_s": 2.0,  # beyond our read timeout: the answer never comes in time
        "drop_after_accept_share": 0.02,
        "latency_ms": [5, 30],
    }
    # the provider allows less than we try: 429 bursts until the limiter has backed off
    reset(sim, faults=faults, rates={"smart": 1500, "basic": 1500, "sms": None, "capability": None})
    env = {
        "KOODISPATCH_RATES__SMART": "4000",
        "KOODISPATCH_RATES__BASIC": "4000",
        "KOODISPATCH_PROVIDER__READ_TIMEOUT": "1",
        "KOODISPATCH_PROVIDER__CONNECT_TIMEOUT": "1",
        "KOODISPATCH_PROVIDER__ANSWER_GRACE": "1",
        "KOODISPATCH_DISPATCH__RETRY_MAX_DELAY": "1",
        "KOODISPATCH_DISPATCH__OUTAGE_PAUSE_AFTER": "60",
    }
    async with started(redis_url, sim.url, tmp_path, 30_000, 8, **env) as run:
        with workers(2, run.env, tmp_path):
            await wait_sent(run.redis, run.cid, 5_000)
            sim_post(sim, "/_simulator/config", {"faults": {**faults, "outage": True}})
            await asyncio.sleep(4.0)  # the same code path as a minute-long outage, shorter
            sim_post(sim, "/_simulator/config", {"faults": {**faults, "outage": False}})
            report = await wait_for(run.redis, run.cid, max_wait=240)
    ledger = sim_get(sim, "/_simulator/ledger")
    assert ledger["throttled"]["smart"] > 0, "no 429 burst happened: the test lost its point"
    assert_exact(sim, run.truth, report)


async def test_answers_dropped_after_accept_are_reconciled_not_resent(
    tmp_path: Path, redis_url: str, simulator_thread: Any
) -> None:
    """A fifth of all calls, on every channel, is applied and then its connection dropped unanswered."""
    sim = simulator_thread
    reset(sim, faults={"drop_after_accept_share": 0.2})
    rates = {"KOODISPATCH_RATES__SMART": "20000", "KOODISPATCH_RATES__BASIC": "20000"}
    async with started(redis_url, sim.url, tmp_path, 15_000, 19, **rates) as run:
        with workers(2, run.env, tmp_path):
            report = await wait_for(run.redis, run.cid, max_wait=180)
        paths = await journal_paths(run.redis, run.cid, report.batches)
    assert sim_get(sim, "/_simulator/ledger")["faults"]["drop_after_accept"]["smart"] > 0
    assert paths.get("reconciled", 0) > 0 and "resent" not in paths, paths
    assert_exact(sim, run.truth, report)


async def journal_paths(redis: aioredis.Redis, cid: str, batches: int) -> dict[str, int]:
    """How many chunks took each path (sent / reconciled / resent), from the journal."""
    counts: dict[str, int] = {}
    for batch in range(batches):
        for raw in (await redis.hgetall(keys.journal(cid, batch))).values():
            path = ChunkRecord.decode(raw).path
            counts[path] = counts.get(path, 0) + 1
    return counts


async def test_outage_past_the_limit_pauses_with_a_reason_then_resume_completes(
    tmp_path: Path, redis_url: str, simulator_thread: Any
) -> None:
    sim = simulator_thread
    reset(sim)
    env = {
        "KOODISPATCH_RATES__SMART": "3000",
        "KOODISPATCH_DISPATCH__RETRY_MAX_DELAY": "0.5",
        "KOODISPATCH_DISPATCH__OUTAGE_PAUSE_AFTER": "3",
    }
    async with started(redis_url, sim.url, tmp_path, 8_000, 4, **env) as run:
        with workers(2, run.env, tmp_path):
            await wait_sent(run.redis, run.cid, 1_000)
            sim_post(sim, "/_simulator/config", {"faults": {"outage": True}})
            paused = await wait_for(run.redis, run.cid, frozenset({CampaignState.PAUSED}), max_wait=60)
            assert paused.reason.startswith("provider down"), paused.reason
            assert 0 < sum(paused.sent.values()) < run.truth.imported
            sim_post(sim, "/_simulator/config", {"faults": {"outage": False}})
            await api.resume(run.cid, redis=run.redis)
            report = await wait_for(run.redis, run.cid, max_wait=120)
    assert_exact(sim, run.truth, report)


@pytest.fixture
def private_redis(request: pytest.FixtureRequest) -> Iterator[RedisServer]:
    server = RedisServer(appendonly=request.param)
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.mark.parametrize("private_redis", [True], indirect=True)
async def test_redis_restart_with_aof_mid_campaign_completes_exactly(
    tmp_path: Path, private_redis: RedisServer, simulator_thread: Any
) -> None:
    sim = simulator_thread
    reset(sim)
    rates = {"KOODISPATCH_RATES__SMART": "3000"}
    async with started(private_redis.url, sim.url, tmp_path, 20_000, 12, **rates) as run:
        with workers(2, run.env, tmp_path):
            await wait_sent(run.redis, run.cid, 3_000)
            await asyncio.to_thread(private_redis.restart)
            report = await wait_for(run.redis, run.cid, max_wait=180)
    assert_exact(sim, run.truth, report)


@pytest.mark.parametrize("private_redis", [False], indirect=True)
async def test_redis_back_empty_stops_workers_with_a_clear_error_and_resends_nothing(
    tmp_path: Path, private_redis: RedisServer, simulator_thread: Any
) -> None:
    sim = simulator_thread
    reset(sim)
    rates = {"KOODISPATCH_RATES__SMART": "2000"}
    async with started(private_redis.url, sim.url, tmp_path, 20_000, 13, **rates) as run:
        with workers(2, run.env, tmp_path) as procs:
            await wait_sent(run.redis, run.cid, 2_000)
            await asyncio.to_thread(private_redis.restart, True)
            codes = [await asyncio.to_thread(proc.wait, 60) for proc in procs]
            before = sim_get(sim, "/_simulator/ledger")
            await asyncio.sleep(2.0)
            after = sim_get(sim, "/_simulator/ledger")
            assert not await run.redis.exists(keys.campaign(run.cid))
    assert all(code != 0 for code in codes), codes
    logs = "".join((tmp_path / f"worker-{i}.log").read_text() for i in range(2))
    assert "Redis lost its data" in logs
    for channel in ("smart", "sms", "basic"):
        assert after[channel]["accepted"] == before[channel]["accepted"]
        assert after[channel]["duplicates"] == 0
