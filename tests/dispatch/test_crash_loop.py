"""A crash loop: a worker killed every few seconds, 60 times over, with provider faults on.

Dead jobs must never pile up in front of live ones (arq's poll reads only the front of its queue): the
campaign completes, every batch a killed worker held runs again within 10 s of the kill, and the ledger
shows every number once.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest

from engine import api
from tests.dispatch.crashes import (
    FAST_TAKEOVER,
    Fleet,
    assert_exact,
    held_by,
    reset,
    running_again,
    started,
    wait_sent,
)
from tests.processes import wait_for

pytestmark = pytest.mark.slow
KILLS = 60
TAKEOVER_GOAL = 10.0  # seconds from a kill until every batch the victim held runs again


@pytest.mark.timeout(900)  # ≈ 4 minutes here; the kills alone take 3
async def test_60_kills_every_2_to_4_s_with_faults_stall_nothing_and_lose_nothing(
    tmp_path: Path, redis_url: str, simulator_thread: Any
) -> None:
    sim = simulator_thread
    faults = {
        "error_share": 0.05,
        "timeout_share": 0.02,
        "timeout_sleep_s": 4.0,  # beyond the read timeout: the answer never comes in time
        "drop_after_accept_share": 0.02,
        "latency_ms": [5, 30],
    }
    reset(sim, faults=faults)
    env = {
        **FAST_TAKEOVER,
        "KOODISPATCH_DISPATCH__LEASE_SECONDS": "5",  # the default: the goal holds without tuning
        "KOODISPATCH_DISPATCH__RETRY_MAX_DELAY": "1",
        "KOODISPATCH_RATES__SMART": "450",
        "KOODISPATCH_RATES__BASIC": "300",
    }
    rng = random.Random(60)
    delays: list[asyncio.Task[float]] = []
    async with started(redis_url, sim.url, tmp_path, 130_000, 60, **env) as run:
        fleet = Fleet(run.env, tmp_path)
        try:
            for _ in range(3):
                fleet.spawn()
            await wait_sent(run.redis, run.cid, 1)
            while len(delays) < KILLS:
                await asyncio.sleep(rng.uniform(2.0, 4.0))
                if (await api.campaign_report(run.cid, redis=run.redis)).state == "completed":
                    break
                victim = fleet.procs[rng.randrange(len(fleet.procs))]
                held = await held_by(run.redis, run.cid, victim.pid)
                fleet.kill(victim)
                fleet.spawn()
                delays.append(asyncio.create_task(running_again(run.redis, run.cid, held, 60.0)))
            report = await wait_for(run.redis, run.cid, max_wait=600)
            slowest = max(await asyncio.gather(*delays))
        finally:
            fleet.stop()
    assert len(delays) >= KILLS, f"the campaign ended after only {len(delays)} kills: make it longer"
    assert slowest <= TAKEOVER_GOAL, f"a killed worker's batch ran again only after {slowest:.1f} s"
    assert_exact(sim, run.truth, report)
