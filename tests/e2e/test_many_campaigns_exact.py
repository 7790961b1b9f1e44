"""Every guarantee with several campaigns at once, with real worker processes: four campaigns of three
classes and two fallback policies run together while workers are killed with SIGKILL, Redis restarts
(append-only file), one campaign is paused and resumed and another cancelled. The simulator's ledger is the
judge, per campaign: every number of a completed campaign got exactly one message on the channel its
verdict decides, under that campaign's references; the cancelled one sent nothing twice and nothing after
its cancel; nobody's control touched another campaign."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from arq.connections import ArqRedis

from engine import api
from engine.ingest.demo_data import Truth, generate_recipients
from engine.runtime.redis_server import RedisServer
from engine.runtime.settings import load_settings
from engine.simulator import SimulatorThread
from engine.simulator.capability import is_capable
from engine.store.connection import open_queue
from engine.types import CampaignState
from tests.conftest import SHARE
from tests.dispatch.crashes import FAST_TAKEOVER, Fleet, reset, sent, wait_sent
from tests.processes import engine_env, sim_get, spec, wait_for

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Campaign:
    cid: str
    truth: Truth
    fallback: str  # the channel its not-capable numbers get, "" when skipped


async def submit(
    redis: ArqRedis, sim: SimulatorThread, tmp_path: Path, name: str, rows: int, policy: str, **budget: Any
) -> Campaign:
    truth = generate_recipients(tmp_path / f"{name}.csv", rows, seed=rows + len(name))
    settings = load_settings(
        provider={"koomessage_url": sim.url, "smsapi_url": sim.url}, dispatch={"batch_size": 1000}
    )
    result = await api.submit_campaign(
        {**spec(policy), "name": name, "budget": budget},
        redis=redis,
        recipients=tmp_path / f"{name}.csv",
        settings=settings,
        preflight=False,
    )
    return Campaign(result.cid, truth, "" if policy == "skip" else policy)


def sends(ledger: dict[str, Any], cid: str) -> dict[str, Counter[str]]:
    """Per channel, how many messages each number got under ``cid``'s references."""
    out: dict[str, Counter[str]] = {}
    for channel in ("smart", "sms", "basic"):
        got: Counter[str] = Counter()
        for number, seen in ledger[channel]["numbers"].items():
            for reference in seen["sends"]:
                ref = reference.get("task_name") or reference.get("extend") or reference.get("exdata") or ""
                if ref.partition(":")[0] == cid:
                    got[number] += 1
        out[channel] = got
    return out


def assert_exact(ledger: dict[str, Any], campaign: Campaign, report: Any) -> None:
    numbers = campaign.truth.numbers.to_list()
    capable = {n for n in numbers if is_capable(n, SHARE)}
    expected = (
        {"smart": capable, campaign.fallback: set(numbers) - capable}
        if campaign.fallback
        else {"smart": capable}
    )
    got = sends(ledger, campaign.cid)
    for channel in ("smart", "sms", "basic"):
        want = expected.get(channel, set())
        assert set(got[channel]) == want, (campaign.cid, channel, len(got[channel]), len(want))
        assert max(got[channel].values(), default=1) == 1, (campaign.cid, channel, "a number twice")
        assert report.sent[channel] == len(want), (campaign.cid, channel, report.sent)
    assert report.state == "completed" and report.failed == 0 and report.unsent == 0


async def test_four_campaigns_through_kills_a_redis_restart_pause_and_cancel_each_exact(
    tmp_path: Path, simulator_thread: SimulatorThread
) -> None:
    sim = simulator_thread
    reset(sim)
    rng = random.Random(21)
    server = RedisServer(appendonly=True)
    server.start()
    redis = await open_queue(server.url)
    env = engine_env(
        server.url, sim.url, KOODISPATCH_RATES__SMART="2500", KOODISPATCH_RATES__CAPABILITY="50000",
        **FAST_TAKEOVER,
    )  # fmt: skip
    fleet = Fleet(env, tmp_path)
    try:
        alert = await submit(redis, sim, tmp_path, "alert", 8_000, "basic", priority="urgent")
        main = await submit(redis, sim, tmp_path, "main", 30_000, "basic", weight=2)
        promo = await submit(redis, sim, tmp_path, "promo", 25_000, "skip", priority="bulk")
        dropped = await submit(redis, sim, tmp_path, "dropped", 20_000, "basic")
        for _ in range(3):
            fleet.spawn()
        await wait_sent(redis, main.cid, 2_000)
        await api.pause(promo.cid, redis=redis)
        for kill in range(8):
            await asyncio.sleep(rng.uniform(0.5, 1.5))
            fleet.kill_one(rng)
            fleet.spawn()
            if kill == 3:
                await asyncio.to_thread(server.restart)
            if kill == 5:
                await api.cancel(dropped.cid, redis=redis)
        held, going = await sent(redis, promo.cid), await sent(redis, main.cid)
        await asyncio.sleep(2.0)  # the paused one sends nothing while the others go on
        assert await sent(redis, promo.cid) == held
        assert await sent(redis, main.cid) > going, "pausing one campaign stopped another"
        cancelled_at = sim_get(sim, "/_simulator/ledger?detail=1")
        await api.resume(promo.cid, redis=redis)
        reports = {c.cid: await wait_for(redis, c.cid, max_wait=400) for c in (alert, main, promo)}
        dropped_report = await wait_for(redis, dropped.cid, max_wait=60)
    finally:
        fleet.stop()
        await redis.aclose()
        server.close()
    ledger = sim_get(sim, "/_simulator/ledger?detail=1")
    for campaign in (alert, main, promo):
        assert_exact(ledger, campaign, reports[campaign.cid])
    assert dropped_report.state == CampaignState.CANCELLED.value and dropped_report.unsent > 0
    late = sends(ledger, dropped.cid)
    assert late == sends(cancelled_at, dropped.cid), "the cancelled campaign sent after its cancel"
    assert all(max(got.values(), default=1) == 1 for got in late.values())
    assert sum(dropped_report.sent.values()) == sum(len(got) for got in late.values())
