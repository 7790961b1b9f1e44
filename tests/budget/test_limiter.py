"""Shared rate budgets: GCRA decisions, live rates, throttling back-off and the in-flight cap, on real Redis.

Decisions are checked with an injected clock, so no assertion depends on how fast this machine runs;
the tests with real processes assert on counts and bounds taken from Redis TIME.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
import redis.asyncio as aioredis

from engine.budget.limiter import MIN_FACTOR
from engine.errors import ConfigError
from engine.runtime.settings import RateSettings
from engine.store import keys
from engine.types import CHANNELS
from tests.budget.limiters import (
    APPROX,
    RATES,
    Clock,
    MakeLimiter,
    read_line,
    redis_now,
    spawn,
)

# --- the GCRA budget -------------------------------------------------------------------------------


async def test_admits_within_the_burst_then_names_the_wait(make_limiter: MakeLimiter, clock: Clock) -> None:
    limiter = make_limiter(clock=clock)
    waits = [await limiter.try_acquire("smart", 3) for _ in range(6)]
    # tat - now after each admitted call: 0, .03, .06, .09 <= 0.1; then .12 > 0.1 -> wait .02
    assert waits[:4] == [0.0] * 4
    assert waits[4:] == [pytest.approx(0.02, abs=APPROX)] * 2
    clock.now += 0.02
    assert await limiter.try_acquire("smart", 3) == 0.0


async def test_call_larger_than_burst_is_admitted_and_pushes_the_next_back(
    make_limiter: MakeLimiter, clock: Clock
) -> None:
    limiter = make_limiter(clock=clock)
    assert await limiter.try_acquire("smart", 500) == 0.0
    assert await limiter.try_acquire("smart", 1) == pytest.approx(500 / 100 - 0.1, abs=APPROX)
    clock.now += 4.9
    assert await limiter.try_acquire("smart", 1) == 0.0


async def test_channels_have_separate_budgets(make_limiter: MakeLimiter, clock: Clock) -> None:
    limiter = make_limiter(clock=clock)
    assert await limiter.try_acquire("smart", 500) == 0.0
    assert await limiter.try_acquire("sms", 5) == 0.0


async def test_two_workers_share_one_budget(make_limiter: MakeLimiter, clock: Clock) -> None:
    first, second = make_limiter(clock=clock), make_limiter(clock=clock)
    assert [await first.try_acquire("smart", 3) for _ in range(2)] == [0.0, 0.0]
    assert [await second.try_acquire("smart", 3) for _ in range(2)] == [0.0, 0.0]
    assert await first.try_acquire("smart", 3) == pytest.approx(0.02, abs=APPROX)
    assert await second.try_acquire("smart", 3) == pytest.approx(0.02, abs=APPROX)


async def test_empty_call_is_a_bug(make_limiter: MakeLimiter) -> None:
    with pytest.raises(ValueError, match="n=0"):
        await make_limiter().try_acquire("smart", 0)


async def test_acquire_waits_for_admission_and_counts_the_wait(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter()
    assert await limiter.try_acquire("smart", 20) == 0.0
    await limiter.acquire("smart", 1)  # 20 numbers at 100/s: ~0.1 s beyond the burst
    assert limiter.budget_wait_seconds["smart"] > 0
    assert limiter.budget_wait_seconds["sms"] == 0


async def test_acquire_gives_up_after_max_wait_without_charging(
    make_limiter: MakeLimiter, clock: Clock
) -> None:
    limiter = make_limiter(clock=clock)
    await limiter.try_acquire("smart", 1000)
    with pytest.raises(TimeoutError):
        await limiter.acquire("smart", 100, max_wait=0.1)
    assert (await limiter.get_rate("smart")).backlog == pytest.approx(10.0, abs=APPROX)


async def test_workers_in_separate_processes_stay_within_the_budget(
    make_limiter: MakeLimiter, redis_client: aioredis.Redis, redis_url: str
) -> None:
    rate, burst, n, seconds = 200.0, 0.1, 5, 1.5
    await make_limiter(RateSettings(smart=rate, burst_seconds=burst)).ensure_defaults()
    workers = [await spawn(BUDGET_WORKER, redis_url, rate, burst, n, seconds) for _ in range(2)]
    async with asyncio.timeout(60):  # both started and connected before either acquires
        assert [await read_line(worker) for worker in workers] == [b"ready\n"] * 2
    start = await redis_now(redis_client)
    go = f"{start!r}\n".encode()
    outputs = [out for out, _ in await asyncio.gather(*(worker.communicate(go) for worker in workers))]
    elapsed = await redis_now(redis_client) - start

    assert [worker.returncode for worker in workers] == [0, 0]
    calls = [int(output) for output in outputs]
    admitted = int(await redis_client.get("test:admitted") or 0)
    assert all(count > 0 for count in calls)
    assert admitted == n * sum(calls)
    # GCRA admits at most the burst plus one call beyond the rate over any window
    assert admitted <= rate * elapsed + rate * burst + n


BUDGET_WORKER = """
import asyncio, sys
import redis.asyncio as aioredis
from engine.budget.limiter import RateLimiter
from engine.runtime.settings import RateSettings

async def now(client):
    seconds, micros = await client.time()
    return seconds + micros / 1_000_000

async def main(url, rate, burst, n, seconds):
    client = aioredis.Redis.from_url(url)
    limiter = RateLimiter(client, RateSettings(smart=rate, burst_seconds=burst))
    await client.ping()
    print("ready", flush=True)
    end, calls = float(await asyncio.to_thread(sys.stdin.readline)) + seconds, 0
    while calls == 0 or await now(client) < end:
        await limiter.acquire("smart", n)
        await client.incrby("test:admitted", n)
        calls += 1
    print(calls)
    await client.aclose()

url, rate, burst, n, seconds = sys.argv[1:]
asyncio.run(main(url, float(rate), float(burst), int(n), float(seconds)))
"""


# --- live settings ---------------------------------------------------------------------------------


async def test_set_rate_reaches_other_workers_at_once(make_limiter: MakeLimiter, clock: Clock) -> None:
    slow = RateSettings(smart=10.0, burst_seconds=0.1)
    worker, operator = make_limiter(slow, clock=clock), make_limiter(slow, clock=clock)
    assert await worker.try_acquire("smart", 50) == 0.0
    assert await worker.try_acquire("smart", 1) == pytest.approx(4.9, abs=APPROX)

    info = await operator.set_rate("smart", 1000.0)
    # the 50 admitted numbers now take 50 ms at the new rate, within the burst
    assert (info.rate, info.backlog) == (1000.0, pytest.approx(0.05, abs=APPROX))
    assert await worker.try_acquire("smart", 1) == 0.0
    assert (await worker.get_rate("smart")).rate == 1000.0


async def test_live_rate_survives_a_restart_and_defaults_fill_the_rest(make_limiter: MakeLimiter) -> None:
    await make_limiter().ensure_defaults()
    operator = make_limiter()
    await operator.set_rate("smart", 800.0, burst_seconds=0.5)

    restarted = make_limiter(RateSettings(smart=1.0, sms=2.0, burst_seconds=0.3))
    await restarted.ensure_defaults()
    rates = await restarted.get_rates()
    assert list(rates) == list(CHANNELS)
    assert (rates["smart"].rate, rates["smart"].burst_seconds) == (800.0, 0.5)
    assert (rates["sms"].rate, rates["sms"].burst_seconds) == (RATES.sms, RATES.burst_seconds)
    assert all(info.factor == 1.0 and info.in_flight == 0 for info in rates.values())


async def test_budget_without_stored_settings_uses_the_configured_ones(
    make_limiter: MakeLimiter, clock: Clock
) -> None:
    info = await make_limiter(clock=clock).get_rate("basic")
    assert (info.rate, info.effective, info.burst_seconds, info.backlog) == (RATES.basic, RATES.basic, 0.1, 0)


@pytest.mark.parametrize(
    ("channel", "rate", "burst", "expect"),
    [("smart", 0.0, None, "rate of channel smart: 0 is outside the allowed range of 0.01 to 1,000,000"),
     ("smart", -5.0, None, "-5 is outside"), ("smart", math.inf, None, "inf is outside"),
     ("smart", math.nan, None, "nan is outside"),
     ("smart", 1e-9, None, "1e-09 is outside the allowed range of 0.01 to 1,000,000 numbers per second"),
     ("smart", 4.9e-7, None, "4.9e-07 is outside"), ("smart", 1_000_001.0, None, "1000001 is outside"),
     ("smart", 10.0, 0.0, "burst_seconds of channel smart: 0 is outside the allowed range of 0.01 to 60 s"),
     ("smart", 10.0, 60.5, "60.5 is outside"), ("smart", 10.0, math.nan, "nan is outside"),
     ("fax", 10.0, None, "unknown channel 'fax'")],
)  # fmt: skip
async def test_set_rate_outside_its_range_is_refused_and_changes_nothing(
    make_limiter: MakeLimiter,
    redis_client: aioredis.Redis,
    channel: Any,
    rate: float,
    burst: float | None,
    expect: str,
) -> None:
    limiter = make_limiter()
    await limiter.set_rate("smart", 800.0, burst_seconds=0.5)
    before = await redis_client.hgetall(keys.rate("smart"))
    with pytest.raises(ConfigError) as refused:
        await limiter.set_rate(channel, rate, burst_seconds=burst)
    assert expect in str(refused.value)
    assert await redis_client.hgetall(keys.rate("smart")) == before


# --- throttling ------------------------------------------------------------------------------------


async def test_throttle_halves_the_rate_and_it_recovers_linearly(
    make_limiter: MakeLimiter, clock: Clock
) -> None:
    limiter = make_limiter(clock=clock)
    assert await limiter.try_acquire("smart", 10) == 0.0  # 0.1 s of backlog at the full rate

    info = await limiter.throttled("smart")
    assert (info.factor, info.effective) == (0.5, 50.0)
    assert info.backlog == pytest.approx(0.2, abs=APPROX)  # the same 10 numbers at 50/s
    assert await limiter.try_acquire("smart", 1) == pytest.approx(0.1, abs=APPROX)

    clock.now += 5
    assert (await limiter.get_rate("smart")).effective == pytest.approx(75.0, abs=APPROX)
    clock.now += 5
    info = await limiter.get_rate("smart")
    assert (info.factor, info.effective) == (1.0, 100.0)


async def test_throttles_in_the_hold_do_not_compound(make_limiter: MakeLimiter, clock: Clock) -> None:
    first, second = make_limiter(clock=clock), make_limiter(clock=clock)
    for limiter in (first, second, first):  # answers to calls that were already in flight
        assert (await limiter.throttled("smart")).factor == 0.5
    clock.now += 1.0  # the hold is over; the factor has climbed to 0.55
    assert (await second.throttled("smart")).factor == pytest.approx(0.275, abs=APPROX)


async def test_throttling_never_goes_below_the_floor(make_limiter: MakeLimiter, clock: Clock) -> None:
    limiter = make_limiter(clock=clock, throttle_hold=0.0)
    for _ in range(10):
        info = await limiter.throttled("smart")
    assert (info.factor, info.effective) == (MIN_FACTOR, pytest.approx(100 * MIN_FACTOR, abs=APPROX))


async def test_retry_after_holds_back_every_worker_until_it_passes(
    make_limiter: MakeLimiter, clock: Clock
) -> None:
    first, second = make_limiter(clock=clock), make_limiter(clock=clock)
    await first.throttled("smart", retry_after=2.0)
    clock.now += 1.99
    assert await second.try_acquire("smart", 1) == pytest.approx(0.01, abs=APPROX)
    assert await first.try_acquire("sms", 1) == 0.0
    clock.now += 0.011
    assert await second.try_acquire("smart", 1) == 0.0


# --- calls in flight -------------------------------------------------------------------------------


# --- the dispatcher's helper -----------------------------------------------------------------------


# --- the budget line of a process --------------------------------------------------------------------
