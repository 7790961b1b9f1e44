"""Several campaigns at once, with real worker processes: they run side by side, share the smart budget by
class and weight, and each is exact; the simulator's ledger tells them apart by their chunk references."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from arq.connections import ArqRedis

from engine import api
from engine.ingest.demo_data import generate_recipients
from engine.runtime.settings import load_settings
from engine.simulator import SimulatorThread
from engine.simulator.capability import is_capable
from tests.conftest import SHARE
from tests.processes import engine_env, sim_get, sim_post, spec, wait_for, workers

pytestmark = pytest.mark.slow
SMART_RATE = 1500  # numbers/s for all workers: campaigns of tens of thousands overlap for seconds
# A batch resolves all its numbers before it sends, and the capability budget is shared by weight too: at
# the default 1000/s the lighter campaign would still be resolving while the heavier one sends, and their
# smart sends would barely overlap. Resolving fast puts both on the smart budget the test is about.
CAPABILITY_RATE = 20_000


def campaign_env(redis_url: str, sim: SimulatorThread) -> dict[str, str]:
    """Workers' environment: the smart cap under test, capability checks out of the way."""
    rates = {
        "KOODISPATCH_RATES__SMART": str(SMART_RATE),
        "KOODISPATCH_RATES__CAPABILITY": str(CAPABILITY_RATE),
    }
    return engine_env(redis_url, sim.url, **rates)


async def submit(
    redis: ArqRedis, sim: SimulatorThread, tmp_path: Path, name: str, rows: int, **budget: Any
) -> tuple[str, int]:
    """A campaign of ``rows`` generated recipients with ``[budget]`` settings; its id and capable count."""
    truth = generate_recipients(tmp_path / f"{name}.csv", rows, seed=rows)
    body = {**spec("skip"), "name": name, "budget": budget}
    provider = {"koomessage_url": sim.url, "smsapi_url": sim.url}
    result = await api.submit_campaign(
        body, redis=redis, recipients=tmp_path / f"{name}.csv", settings=load_settings(provider=provider),
        preflight=False,
    )  # fmt: skip
    return result.cid, sum(is_capable(n, SHARE) for n in truth.numbers.to_list())


def overlap_shares(ledger: dict[str, Any], first: str, second: str) -> float:
    """``first``'s share of the smart numbers accepted in the whole seconds both campaigns were sending."""
    per_second = ledger["smart"]["campaigns"]
    both = sorted(set(per_second[first]) & set(per_second[second]))[1:-1]  # whole seconds only
    series = {cid: dict(sorted(per_second[cid].items())) for cid in (first, second)}
    assert len(both) >= 4, f"the campaigns overlapped for only {len(both)} s: {series}"
    mine = sum(per_second[first][s] for s in both)
    return mine / (mine + sum(per_second[second][s] for s in both))


@pytest.mark.parametrize(("weights", "expected"), [((1, 1), 0.5), ((3, 1), 0.75)])
async def test_two_campaigns_submitted_apart_send_together_by_weight_and_exactly(
    tmp_path: Path,
    redis_url: str,
    arq_redis: ArqRedis,
    sim: SimulatorThread,
    weights: tuple[int, int],
    expected: float,
) -> None:
    """The second comes 2 s after the first; both then send at once, sharing the cap by weight."""
    env = campaign_env(redis_url, sim)
    with workers(2, env, tmp_path):
        first, capable_1 = await submit(arq_redis, sim, tmp_path, "first", 24_000, weight=weights[0])
        await asyncio.sleep(2.0)
        second, capable_2 = await submit(arq_redis, sim, tmp_path, "second", 12_000, weight=weights[1])
        reports = [await wait_for(arq_redis, cid, max_wait=240) for cid in (first, second)]
    ledger = sim_get(sim, "/_simulator/ledger?campaigns=1")
    assert ledger["smart"]["duplicates"] == 0
    assert [r.sent["smart"] for r in reports] == [capable_1, capable_2]
    assert overlap_shares(ledger, first, second) == pytest.approx(expected, abs=0.08)


async def test_an_urgent_campaign_sends_within_a_second_while_bulk_saturates_the_cap(
    tmp_path: Path, redis_url: str, arq_redis: ArqRedis, sim: SimulatorThread
) -> None:
    env = campaign_env(redis_url, sim)
    with workers(2, env, tmp_path):
        bulk, _ = await submit(arq_redis, sim, tmp_path, "bulk", 40_000, priority="bulk")
        await asyncio.sleep(4.0)  # bulk alone, at the cap
        sim_post(sim, "/_simulator/reset", {})
        submitted = time.time()
        urgent, capable = await submit(arq_redis, sim, tmp_path, "urgent", 2_000, priority="urgent")
        report = await wait_for(arq_redis, urgent, max_wait=60)
        finished = time.time()
        ledger = sim_get(sim, "/_simulator/ledger?campaigns=1")
        await api.cancel(bulk, redis=arq_redis)
    seconds = sorted(int(s) for s in ledger["smart"]["campaigns"][urgent])
    assert seconds[0] <= int(submitted) + 1, "its first number was accepted more than a second late"
    assert report.sent["smart"] == capable
    # at the cap, less the minimum share kept for bulk: its size / (95 % of the cap), plus a margin
    assert finished - submitted <= capable / (0.95 * SMART_RATE) + 3.0


async def test_pausing_one_campaign_leaves_the_other_sending_and_both_end_exact(
    tmp_path: Path, redis_url: str, arq_redis: ArqRedis, sim: SimulatorThread
) -> None:
    env = campaign_env(redis_url, sim)
    with workers(2, env, tmp_path):
        first, capable_1 = await submit(arq_redis, sim, tmp_path, "first", 15_000)
        second, capable_2 = await submit(arq_redis, sim, tmp_path, "second", 10_000)
        for _ in range(300):  # until the first campaign is sending
            if first in sim_get(sim, "/_simulator/ledger?campaigns=1")["smart"]["campaigns"]:
                break
            await asyncio.sleep(0.1)
        await api.pause(first, redis=arq_redis)
        done = await wait_for(arq_redis, second, max_wait=120)
        held = sim_get(sim, "/_simulator/ledger?campaigns=1")["smart"]["campaigns"][first]
        await asyncio.sleep(1.0)
        still = sim_get(sim, "/_simulator/ledger?campaigns=1")["smart"]["campaigns"][first]
        assert still == held, "the paused campaign kept sending"
        assert (await api.campaign_report(first, redis=arq_redis)).state == "paused"
        await api.resume(first, redis=arq_redis)
        resumed = await wait_for(arq_redis, first, max_wait=120)
    ledger = sim_get(sim, "/_simulator/ledger")
    assert ledger["smart"]["duplicates"] == 0
    assert (done.sent["smart"], resumed.sent["smart"]) == (capable_2, capable_1)


async def test_a_campaigns_own_cap_holds_beside_another_and_leaves_the_rest_to_it(
    tmp_path: Path, redis_url: str, arq_redis: ArqRedis, sim: SimulatorThread
) -> None:
    """``max_rate`` on top of the account's budget: the capped campaign never averages above its cap, alone or
    beside another, and what it leaves of the account's cap goes to the other (work-conserving)."""
    cap = 300
    with workers(2, campaign_env(redis_url, sim), tmp_path):
        capped, capable_1 = await submit(arq_redis, sim, tmp_path, "capped", 6_000, max_rate={"smart": cap})
        free, capable_2 = await submit(arq_redis, sim, tmp_path, "free", 15_000)
        reports = [await wait_for(arq_redis, cid, max_wait=240) for cid in (capped, free)]
    ledger = sim_get(sim, "/_simulator/ledger?campaigns=1")
    assert ledger["smart"]["duplicates"] == 0
    assert [r.sent["smart"] for r in reports] == [capable_1, capable_2]
    per_second = ledger["smart"]["campaigns"]
    whole = sorted(per_second[capped])[1:-1]  # whole seconds only
    assert sum(per_second[capped][s] for s in whole) / len(whole) <= cap * 1.05
    both = sorted(set(per_second[capped]) & set(per_second[free]))[1:-1]
    assert len(both) >= 4, f"the campaigns overlapped for only {len(both)} s"
    assert sum(per_second[free][s] for s in both) / len(both) >= 0.85 * (SMART_RATE - cap)


async def test_a_class_changed_live_takes_the_budget_at_the_next_calls(
    tmp_path: Path, redis_url: str, arq_redis: ArqRedis, sim: SimulatorThread
) -> None:
    """Two normal campaigns share 50/50; one is made urgent while both send and takes all but the lower
    class's minimum share from then on."""
    with workers(2, campaign_env(redis_url, sim), tmp_path):
        first, capable_1 = await submit(arq_redis, sim, tmp_path, "first", 18_000)
        second, capable_2 = await submit(arq_redis, sim, tmp_path, "second", 17_000)  # other numbers
        for _ in range(600):  # until both are sending
            sending = sim_get(sim, "/_simulator/ledger?campaigns=1")["smart"]["campaigns"]
            if first in sending and second in sending:
                break
            await asyncio.sleep(0.1)
        changed = time.time()
        assert await api.set_priority(first, "urgent", redis=arq_redis) == "normal"
        reports = [await wait_for(arq_redis, cid, max_wait=240) for cid in (first, second)]
    ledger = sim_get(sim, "/_simulator/ledger?campaigns=1")
    assert ledger["smart"]["duplicates"] == 0
    assert [r.sent["smart"] for r in reports] == [capable_1, capable_2]
    per_second = ledger["smart"]["campaigns"]
    after = [s for s in sorted(per_second[first]) if int(s) > changed + 1][:-1]  # whole seconds, settled
    assert len(after) >= 4
    mine = sum(per_second[first][s] for s in after)
    theirs = sum(per_second[second].get(s, 0) for s in after)
    assert mine / (mine + theirs) >= 0.85  # 95 % less the chunks in flight at each second's edge
