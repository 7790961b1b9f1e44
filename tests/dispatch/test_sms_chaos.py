"""Chaos with plain SMS and receipts: workers killed every 2–4 s, provider faults on every channel (answers
lost after the call landed and before it reached the provider too), one Redis restart, the receipts service
running and a late SMS fallback for smart messages not delivered.

Exact all the same: every number gets its message once per channel (the late fallback only where the smart
message was not delivered), the report equals the simulator's ledger, and every number the provider
accepted has its status report recorded, on every channel — reports of chunks settled by reconciliation
after a lost answer too.
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
from engine.dispatch.senders import sms_chunk_size
from engine.reports.summary import Report, build_report
from engine.runtime.redis_server import RedisServer
from engine.simulator.capability import is_capable
from engine.state import delivery
from engine.state.batches import unpack
from engine.state.records import ChunkRecord, ChunkState, Stage, chunk_field
from engine.store import keys
from tests.conftest import SHARE
from tests.dispatch.crashes import FAST_TAKEOVER, Fleet, reset, started, wait_sent, wait_until
from tests.dispatch.settling import all_reported, receipts_service, report_to, settled, settling_env
from tests.processes import sim_get, wait_for

pytestmark = pytest.mark.slow
KILLS = 40
FINAL = frozenset({ChunkState.DONE, ChunkState.FAILED})
FAULTS = {
    "error_share": 0.04,
    "timeout_share": 0.02,
    "timeout_sleep_s": 4.0,  # beyond the read timeout: the call landed, its answer never comes in time
    "drop_after_accept_share": 0.03,  # the call landed, its answer is lost
    "drop_share": 0.02,  # the connection is lost before the call reaches the provider
    "latency_ms": [5, 30],
}
# plain SMS, the channel under test, loses more answers: some after its call landed, some before
SMS_FAULTS = {"sms": {**FAULTS, "drop_after_accept_share": 0.12, "drop_share": 0.12}}


@pytest.fixture
def redis_with_aof() -> Iterator[RedisServer]:
    server = RedisServer(appendonly=True)
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.mark.timeout(900)  # ≈ 4 minutes here
async def test_kills_faults_and_a_redis_restart_with_sms_and_receipts_lose_and_duplicate_nothing(
    tmp_path: Path, redis_with_aof: RedisServer, simulator_thread: Any
) -> None:
    sim = simulator_thread
    reset(sim, faults=FAULTS, channel_faults=SMS_FAULTS)
    url = redis_with_aof.url
    with receipts_service(url, {}, tmp_path / "receipts.log") as receipts:
        report_to(sim, receipts)
        env = {
            **FAST_TAKEOVER,
            **settling_env(timeout=10),
            "KOODISPATCH_DISPATCH__RETRY_MAX_DELAY": "1",
            "KOODISPATCH_RATES__SMART": "180",
            "KOODISPATCH_RATES__SMS": "90",
        }
        late = {"after_minutes": 0.1}  # 6 s after each batch finished
        async with started(url, sim.url, tmp_path, 40_000, 24, 2000, "sms", late, **env) as run:
            fleet = Fleet(run.env, tmp_path)
            kills = 0
            try:
                for _ in range(3):
                    fleet.spawn()
                await wait_sent(run.redis, run.cid, 1)
                kills = await _chaos(run.redis, run.cid, fleet, redis_with_aof)
                await wait_for(run.redis, run.cid, max_wait=300)
                await settled(run.redis, run.cid)
                await _late_done(run.redis, run.cid, (await build_report(run.redis, run.cid)).batches)
                counters = await all_reported(run.redis, run.cid, ("smart", "sms"))
                report = await build_report(run.redis, run.cid)
                delivered_smart = await _delivered(run.redis, run.cid, report.batches, "smart")
            finally:
                fleet.stop()
    assert kills >= KILLS, f"the campaign ended after only {kills} kills: make it longer"
    numbers = run.truth.numbers.to_list()
    capable = {n for n in numbers if is_capable(n, SHARE)}
    ledger = sim_get(sim, "/_simulator/ledger?detail=1")
    sms_sends = {n: s["sends"] for n, s in ledger["sms"]["numbers"].items()}
    late_numbers = {n for n, refs in sms_sends.items() if any(":late_sms:" in r["extend"] for r in refs)}
    _assert_exact(report, ledger, capable, len(numbers) - len(capable), late_numbers)
    # the late fallback went to exactly the accepted smart messages not reported delivered
    assert late_numbers == capable - delivered_smart
    assert not late_numbers & delivered_smart
    assert report.settling == 0 and counters["settling"] == 0
    faults = ledger["faults"]
    assert faults["drop_after_accept"]["sms"] + faults["drop"]["sms"] > 0, faults
    assert counters.get("chunks:confirmed_by_receipts", 0) + counters.get("chunks:reconciled", 0) > 0


def _assert_exact(
    report: Report, ledger: dict[str, Any], capable: set[str], not_capable: int, late: set[str]
) -> None:
    """0 duplicates and 0 missing per channel; the report's sends equal the ledger's."""
    assert ledger["smart"]["duplicates"] == 0 and ledger["sms"]["duplicates"] == 0, ledger
    assert ledger["smart"]["unique"] == len(capable) == report.sent["smart"]
    assert ledger["sms"]["unique"] == not_capable + len(late) == report.sent["sms"]
    assert ledger["basic"]["unique"] == report.sent["basic"] == 0
    assert report.state == "completed" and report.failed == 0 and report.unsent == 0
    assert report.in_flight == 0
    assert "unconfirmed" not in report.paths


async def _chaos(redis: aioredis.Redis, cid: str, fleet: Fleet, server: RedisServer) -> int:
    """Kill a random worker every 2–4 s (a replacement starts at once) until the campaign completed, with
    one Redis restart halfway through the kills; returns how many were killed."""
    rng = random.Random(2024)
    kills = 0
    while kills < KILLS * 2:
        await asyncio.sleep(rng.uniform(2.0, 4.0))
        if (await api.campaign_report(cid, redis=redis)).state == "completed":
            break
        fleet.kill_one(rng)
        fleet.spawn()
        kills += 1
        if kills == KILLS // 2:
            await asyncio.to_thread(server.restart)
    return kills


async def _late_done(redis: aioredis.Redis, cid: str, batches: int) -> None:
    """Wait until every batch froze its late list and journaled each of its late chunks final.

    (Not by the late job's arq status: a job running, or held by a killed worker until it is reaped, reads
    as not found once its in-progress key's short visibility passed.)"""
    size = sms_chunk_size("koomessage")

    async def done() -> bool:
        for batch in range(batches):
            frozen = await redis.get(keys.late(cid, batch))
            if frozen is None:
                return False
            chunks = -(-len(frozen) // 2 // size)
            fields = [chunk_field(Stage.LATE_SMS, k) for k in range(chunks)]
            entries = await redis.hmget(keys.journal(cid, batch), fields) if fields else []  # type: ignore[misc]
            if any(e is None or ChunkRecord.decode(e).state not in FINAL for e in entries):
                return False
        return True

    await wait_until(done, "late fallback not sent", max_wait=180)


async def _delivered(redis: aioredis.Redis, cid: str, batches: int, channel: str) -> set[str]:
    """Numbers whose status report on ``channel`` says delivered (one outcome byte per batch position)."""
    out = set()
    for batch in range(batches):
        raw = await delivery.outcomes(redis, cid, batch, channel)
        if raw:
            numbers = unpack(await redis.hget(keys.batch(cid, batch), "n"))  # type: ignore[misc]
            out.update(numbers[position] for position in delivery.delivered_positions(raw))
    return out
