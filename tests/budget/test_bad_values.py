"""Bad values never switch a budget off: damaged stored state is repaired closed, bad arguments are refused.

The issue this pins down: ``rate --smart 1e-9`` was stored as "0.000000"; the next acquire made the backlog
infinite, and ``rate --smart 1000`` after it NaN, from then on admitting every call (50,000 numbers at once
against a 1000/s cap). Each case below stores damage the way a bug, an old version or a hand edit could, then
replays the rest of that sequence against the real script on a real Redis, at one instant of the clock.
"""

from __future__ import annotations

import math

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from engine.budget.limiter import MIN_FACTOR, RateLimiter
from engine.runtime.ranges import BURST, RATE
from engine.runtime.settings import RateSettings
from engine.store import keys
from tests.budget.limiters import T0, Clock, MakeLimiter

CAP = RateSettings()  # 1000/s with 0.2 s of burst: 200 numbers at once, as the provider allows
CALL = 100  # numbers per call, as a smart send carries

DAMAGE = {
    "rate-zero-as-1e-9-was-stored": {"rate": "0.000000"},
    "rate-inf": {"rate": "inf"},
    "rate-nan": {"rate": "nan"},
    "rate-text": {"rate": "fast"},
    "rate-below-range": {"rate": "1e-9"},
    "rate-missing": {"rate": None},
    "burst-nan": {"burst": "nan"},
    "burst-inf": {"burst": "inf"},
    "burst-zero": {"burst": "0"},
    "burst-missing": {"burst": None},
    "tat-inf": {"tat": "inf"},
    "tat-nan": {"tat": "-nan"},
    "factor-nan": {"factor": "nan", "throttled_at": str(T0)},
    "factor-zero": {"factor": "0", "throttled_at": str(T0)},
    "throttled-at-nan": {"factor": "0.5", "throttled_at": "nan"},
}


async def admitted(limiter: RateLimiter, calls: int, n: int = CALL) -> int:
    """Numbers admitted by ``calls`` acquisitions of ``n`` numbers at the current instant."""
    return sum([n for _ in range(calls) if await limiter.try_acquire("smart", n) == 0.0])


async def damage(client: aioredis.Redis, fields: dict[str, str | None]) -> None:
    for field, value in fields.items():
        if value is None:
            await client.hdel(keys.rate("smart"), field)
        else:
            await client.hset(keys.rate("smart"), field, value)


def assert_sound(stored: dict[bytes, bytes]) -> None:
    """Every field of a channel's hash is a finite number in its range; rate and burst are there."""
    values = {field.decode(): float(value) for field, value in stored.items()}
    assert RATE.low <= values["rate"] <= RATE.high and BURST.low <= values["burst"] <= BURST.high, values
    assert all(math.isfinite(value) for value in values.values()), values
    assert MIN_FACTOR <= values.get("factor", 1.0) <= 1.0, values


@pytest.mark.parametrize("fields", DAMAGE.values(), ids=DAMAGE.keys())
async def test_damaged_state_is_repaired_closed_not_read_as_admit_everything(
    make_limiter: MakeLimiter, clock: Clock, redis_client: aioredis.Redis, fields: dict[str, str | None]
) -> None:
    limiter = make_limiter(CAP, clock=clock)
    await limiter.ensure_defaults()
    await damage(redis_client, fields)

    # the reported sequence: an acquire on the damaged state, `rate --smart 1000`, then 50,000 numbers
    first = await admitted(limiter, 1)
    await limiter.set_rate("smart", 1000.0)
    total = first + await admitted(limiter, 500)

    # the repair counts the burst as spent: at one instant, only the call that found the damage gets through
    assert total <= CALL
    assert_sound(await redis_client.hgetall(keys.rate("smart")))
    info = await limiter.get_rate("smart")
    assert (info.rate, info.burst_seconds) == (1000.0, CAP.burst_seconds)
    clock.now += 1.0  # and the channel is not stuck either: a second later it admits again
    assert await limiter.try_acquire("smart", 1) == 0.0


async def test_a_fresh_channel_runs_on_the_defaults_and_stores_them(
    make_limiter: MakeLimiter, clock: Clock, redis_client: aioredis.Redis
) -> None:
    limiter = make_limiter(CAP, clock=clock)
    assert await admitted(limiter, 5, n=70) == 3 * 70  # an idle budget: the burst of 200, then a refusal
    stored = await redis_client.hgetall(keys.rate("smart"))
    assert_sound(stored)  # its first write stored the defaults it ran on: a hash without them is damage
    assert float(stored[b"rate"]) == CAP.smart


async def test_a_wait_shorter_than_a_microsecond_is_still_a_refusal(
    make_limiter: MakeLimiter, clock: Clock
) -> None:
    # with six decimals, 200 numbers charged at T0 read back 48 ns past the burst: the refusal's wait
    # was written "0.000000", which is how an admission reads, and calls went through uncharged
    limiter = make_limiter(CAP, clock=clock)
    assert await admitted(limiter, 5) <= CAP.smart * CAP.burst_seconds + CALL


@pytest.mark.parametrize(
    ("op", "args"),
    [("set", ("1e-9", "")), ("set", ("0", "")), ("set", ("nan", "")), ("set", ("inf", "")),
     ("set", ("-1000", "")), ("set", ("2e6", "")), ("set", ("1000", "0")), ("set", ("1000", "61")),
     ("set", ("1000", "nan")), ("set", ("fast", "")), ("throttle", ("inf",)), ("throttle", ("-1",)),
     ("acquire", ("nan",)), ("acquire", ("0",))],
)  # fmt: skip
async def test_the_script_refuses_bad_arguments_before_writing_anything(
    make_limiter: MakeLimiter, clock: Clock, redis_client: aioredis.Redis, op: str, args: tuple[str, ...]
) -> None:
    limiter = make_limiter(CAP, clock=clock)
    await limiter.set_rate("smart", 800.0, burst_seconds=0.5)
    assert await limiter.try_acquire("smart", CALL) == 0.0
    before = await redis_client.hgetall(keys.rate("smart"))

    with pytest.raises(ResponseError, match=r"rate\.lua: "):
        await limiter._run_rate(op, "smart", *args)  # straight to the script, past the limiter's checks
    assert await redis_client.hgetall(keys.rate("smart")) == before


@pytest.mark.parametrize("defaults", [{"smart": 0.0}, {"smart": math.nan}, {"burst_seconds": math.inf}])
async def test_a_default_outside_its_range_is_an_error_not_a_budget(
    make_limiter: MakeLimiter, clock: Clock, redis_client: aioredis.Redis, defaults: dict[str, float]
) -> None:
    unchecked = RateSettings.model_construct(**defaults)  # what no settings file can produce
    with pytest.raises(ResponseError, match=r"rate\.lua: default"):
        await make_limiter(unchecked, clock=clock).try_acquire("smart", CALL)
    assert await redis_client.dbsize() == 0
