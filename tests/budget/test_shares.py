"""Campaigns sharing a channel's budget: classes first, weights within a class, caps, idle budget given
away; decided by the real script on a real Redis, against an injected clock."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping

import pytest
import redis.asyncio as aioredis

from engine.budget import tenants
from engine.budget.limiter import ASKING_SECONDS, RateLimiter
from engine.budget.tenants import Tenant
from engine.runtime.settings import RateSettings
from tests.budget.limiters import Clock, MakeLimiter

RATE = 1000.0  # numbers per second on the smart channel
CALL = 10  # numbers per call
SHARED = RateSettings(smart=RATE, burst_seconds=0.1, max_in_flight=1_000_000, min_share=0.05)
STEP = 0.005  # seconds of injected time between rounds of attempts


async def send(
    limiter: RateLimiter, clock: Clock, asking: Mapping[str, tuple[float, float]], until: float
) -> Counter[str]:
    """Numbers admitted per campaign while each asks as fast as it is let through during its interval
    ``asking[cid] = (from, to)`` of injected seconds; the order of asking rotates every round."""
    start, sent = clock.now, Counter[str]()
    tokens = itertools.count()
    for round_ in itertools.count():
        elapsed = clock.now - start
        if elapsed >= until:
            return sent
        order = list(asking)
        order = order[round_ % len(order) :] + order[: round_ % len(order)]
        for cid in order:
            begin, end = asking[cid]
            if begin <= elapsed < end:
                while (await limiter._admit("smart", CALL, f"t{next(tokens)}", None, cid))[0] == 0:
                    sent[cid] += CALL
        clock.now += STEP


async def register(redis: aioredis.Redis, **campaigns: Tenant) -> None:
    for cid, tenant in campaigns.items():
        await tenants.register(redis, cid, tenant)


def share(sent: Counter[str], cid: str) -> float:
    return sent[cid] / sum(sent.values())


@pytest.fixture
def limiter(make_limiter: MakeLimiter, clock: Clock) -> RateLimiter:
    return make_limiter(SHARED, clock=clock)


@pytest.mark.parametrize(("weights", "expected"), [((1, 1), 0.5), ((3, 1), 0.75)])
async def test_campaigns_of_one_class_share_by_weight_and_use_the_whole_rate(
    limiter: RateLimiter,
    clock: Clock,
    redis_client: aioredis.Redis,
    weights: tuple[int, int],
    expected: float,
) -> None:
    await register(redis_client, a=Tenant(weight=weights[0]), b=Tenant(weight=weights[1]))
    sent = await send(limiter, clock, {"a": (0, 10), "b": (0, 10)}, 10)
    assert share(sent, "a") == pytest.approx(expected, abs=0.02)
    assert sum(sent.values()) == pytest.approx(RATE * 10, rel=0.02), "the cap, used and not exceeded"


async def test_a_higher_class_is_served_first_and_a_lower_one_keeps_its_minimum_share(
    limiter: RateLimiter, clock: Clock, redis_client: aioredis.Redis
) -> None:
    await register(redis_client, bulk=Tenant("bulk"), urgent=Tenant("urgent"), normal=Tenant("normal"))
    sent = await send(limiter, clock, {"bulk": (0, 10), "urgent": (0, 10), "normal": (0, 10)}, 10)
    # a lower class gets its minimum share, and budget the others leave idle on top (work-conserving)
    assert share(sent, "urgent") >= 0.86
    assert 0.045 <= share(sent, "normal") <= 0.07
    assert 0.045 <= share(sent, "bulk") <= 0.07
    assert sum(sent.values()) == pytest.approx(RATE * 10, rel=0.02)


async def test_an_urgent_campaign_gets_the_budget_at_once_while_bulk_saturates_it(
    limiter: RateLimiter, clock: Clock, redis_client: aioredis.Redis
) -> None:
    """Bulk has been sending alone at the full rate: the urgent campaign's first call waits no longer
    than the burst already promised, and from then on it gets all but the minimum share."""
    await register(redis_client, bulk=Tenant("bulk"), urgent=Tenant("urgent"))
    await send(limiter, clock, {"bulk": (0, 5)}, 5)
    first = None
    tokens = itertools.count()
    for step in range(1000):
        if (await limiter._admit("smart", CALL, f"u{next(tokens)}", None, "urgent"))[0] == 0:
            first = step * STEP
            break
        await limiter._admit("smart", CALL, f"b{next(tokens)}", None, "bulk")
        clock.now += STEP
    assert first is not None and first <= 0.2
    sent = await send(limiter, clock, {"bulk": (0, 5), "urgent": (0, 5)}, 5)
    assert share(sent, "urgent") == pytest.approx(0.95, abs=0.02)


async def test_a_campaign_never_exceeds_its_own_cap_even_alone(
    limiter: RateLimiter, clock: Clock, redis_client: aioredis.Redis
) -> None:
    await register(redis_client, capped=Tenant(caps={"smart": 200.0}), free=Tenant())
    alone = await send(limiter, clock, {"capped": (0, 5)}, 5)
    assert alone["capped"] <= 200 * 5 + 200 * SHARED.burst_seconds + CALL
    together = await send(limiter, clock, {"capped": (0, 5), "free": (0, 5)}, 5)
    assert together["capped"] <= 200 * 5 + 200 * SHARED.burst_seconds + CALL
    assert sum(together.values()) == pytest.approx(RATE * 5, rel=0.02), "what the cap leaves goes to the rest"


async def test_a_campaign_that_stops_asking_leaves_its_share_to_the_others(
    limiter: RateLimiter, clock: Clock, redis_client: aioredis.Redis
) -> None:
    """Paused, waiting on its window or on the provider: after ASKING_SECONDS the rest get all of it."""
    await register(redis_client, a=Tenant(), b=Tenant())
    sent = await send(limiter, clock, {"a": (0, 2), "b": (0, 10)}, 10)
    assert sent["b"] >= RATE * (10 - 2 - ASKING_SECONDS) + 0.45 * RATE * 2
    assert sum(sent.values()) == pytest.approx(RATE * 10, rel=0.02)


async def test_a_change_of_class_reaches_the_next_admission(
    limiter: RateLimiter, clock: Clock, redis_client: aioredis.Redis
) -> None:
    await register(redis_client, a=Tenant(), b=Tenant())
    await send(limiter, clock, {"a": (0, 2), "b": (0, 2)}, 2)
    await tenants.register(redis_client, "a", Tenant("urgent"))
    sent = await send(limiter, clock, {"a": (0, 5), "b": (0, 5)}, 5)
    assert share(sent, "a") == pytest.approx(0.95, abs=0.02)
