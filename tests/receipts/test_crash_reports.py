"""Status reports of chunks settled after a lost answer are matched like any other: a crash-and-fault
campaign (smart + basic edition) with the receipts service running ends with every number the provider
accepted, on every channel, holding its report — none left waiting for a task that was mapped late."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest

from engine.reports.summary import build_report
from tests.dispatch.crashes import FAST_TAKEOVER, Fleet, assert_exact, reset, started, wait_sent
from tests.dispatch.settling import all_reported, receipts_service, report_to
from tests.processes import wait_for

pytestmark = pytest.mark.slow
FAULTS = {
    "error_share": 0.03,
    "timeout_share": 0.03,
    "timeout_sleep_s": 4.0,  # the call landed; its answer comes after the read timeout
    "drop_after_accept_share": 0.08,  # the call landed; its answer is lost
    "latency_ms": [5, 30],
}


@pytest.mark.timeout(600)
async def test_reports_of_reconciled_chunks_are_recorded_on_every_channel_through_kills_and_faults(
    tmp_path: Path, redis_url: str, simulator_thread: Any
) -> None:
    sim = simulator_thread
    reset(sim, faults=FAULTS)
    rng = random.Random(5)
    with receipts_service(redis_url, {}, tmp_path / "receipts.log") as receipts:
        report_to(sim, receipts)
        env = {
            **FAST_TAKEOVER,
            "KOODISPATCH_DISPATCH__RETRY_MAX_DELAY": "1",
            "KOODISPATCH_RATES__SMART": "400",
            "KOODISPATCH_RATES__BASIC": "250",
        }
        async with started(redis_url, sim.url, tmp_path, 20_000, 41, 2000, **env) as run:
            fleet = Fleet(run.env, tmp_path)
            try:
                for _ in range(3):
                    fleet.spawn()
                await wait_sent(run.redis, run.cid, 1)
                for _ in range(12):
                    await asyncio.sleep(rng.uniform(1.5, 3.0))
                    fleet.kill_one(rng)
                    fleet.spawn()
                await wait_for(run.redis, run.cid, max_wait=240)
                counters = await all_reported(run.redis, run.cid, ("smart", "basic"))
                report = await build_report(run.redis, run.cid)
                waiting = [key async for key in run.redis.scan_iter(match="kd:task:*:pending")]
            finally:
                fleet.stop()
    assert_exact(sim, run.truth, report)
    assert counters.get("chunks:reconciled", 0) > 0, counters
    assert counters["delivered:smart"] + counters["undelivered:smart"] == report.sent["smart"] > 0
    assert counters["delivered:basic"] + counters["undelivered:basic"] == report.sent["basic"] > 0
    assert waiting == []  # every report that came before its task was mapped was recorded
