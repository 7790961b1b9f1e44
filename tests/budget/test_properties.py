"""Properties of one channel's budget under random operations, on the real script and a real Redis.

Hypothesis draws a starting rate and burst, then a sequence of clock steps, acquisitions, rate and burst
changes (in and out of range) and throttles, and drives ``RateLimiter`` with an injected clock. Checked:

- **the bound.** For admissions i..j (times t_i ≤ t_j, sizes n_i..n_j), with R the highest rate in force
  from t_i to t_j and r_j, b_j the rate and burst in force at t_j:
  ``n_i + … + n_j − n_j ≤ R·(t_j − t_i) + r_j·b_j``. That is GCRA's promise: a call is admitted while the
  backlog (numbers admitted and not yet paid for, at the effective rate ≤ the rate) is within the burst, so
  what came before the last call of a window was paid for by the window's time or fits in the burst; the
  last call itself may reach past the burst (a call larger than the burst is admitted on an idle budget).
  A rate change keeps the backlog's count of numbers and a throttle only lowers the effective rate, so the
  highest rate in force bounds what the window's time pays for.
- **refusal.** A rate or burst outside its range is refused and changes nothing; one inside is stored
  exactly. After any sequence, a call beyond the burst is refused with a finite wait: no sequence of
  changes switches the budget off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.budget.limiter import RateLimiter
from engine.errors import ConfigError
from engine.runtime.ranges import BURST, RATE, Range
from engine.runtime.settings import RateSettings
from engine.store import keys
from tests.budget.limiters import Clock

OUTSIDE = [0.0, -1.0, 1e-9, 4.9e-7, 0.0099, math.inf, -math.inf, math.nan]  # 1e-9 is the issue's


def inside(allowed: Range) -> st.SearchStrategy[float]:
    """Values in the range, edges included; half of them spread evenly over its orders of magnitude, so
    small rates and bursts, where a few calls fill the burst, come up as often as large ones."""

    def clamp(x: float) -> float:
        return min(max(x, allowed.low), allowed.high)  # exp(log(edge)) may round past the edge

    spread = st.floats(math.log(allowed.low), math.log(allowed.high)).map(lambda x: clamp(math.exp(x)))
    return st.one_of(st.floats(allowed.low, allowed.high), spread)


def values(allowed: Range, *outside: float) -> st.SearchStrategy[float]:
    """Mostly allowed values; now and then one outside the range."""
    allowed_values = inside(allowed)
    return st.one_of(allowed_values, allowed_values, allowed_values, st.sampled_from([*OUTSIDE, *outside]))


OPERATIONS = st.one_of(
    st.tuples(st.just("wait"), st.integers(0, 3_000_000)),  # microseconds
    st.tuples(st.just("acquire"), st.integers(1, 5000)),
    st.tuples(st.just("acquire"), st.integers(1, 5000)),
    st.tuples(st.just("rate"), values(RATE, 1_000_001.0, 1e9)),
    st.tuples(st.just("burst"), values(BURST, 60.5, 3600.0)),
    st.tuples(st.just("throttle"), st.one_of(st.none(), st.floats(0.0, 5.0))),
)


@dataclass
class Budget:
    """What the test knows: the settings in force over time and every admission."""

    rate: float
    burst: float
    epochs: list[tuple[float, float]] = field(default_factory=list)  # (rate, burst) after each change
    admissions: list[tuple[float, int, int]] = field(default_factory=list)  # (time, n, epoch index)

    def __post_init__(self) -> None:
        self.epochs.append((self.rate, self.burst))

    def change(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.epochs.append((rate, burst))

    def check_bound(self, operations: int) -> None:
        """The bound of the module docstring over every window of admissions."""
        for i, (start, _, first_epoch) in enumerate(self.admissions):
            total = 0
            for end, n, epoch in self.admissions[i:]:
                highest = max(rate for rate, _ in self.epochs[first_epoch : epoch + 1])
                rate, burst = self.epochs[epoch]
                bound = highest * (end - start) + rate * burst
                # rounding: each run moves the backlog by at most a few ulps of the clock's magnitude
                slack = highest * operations * 4 * math.ulp(end) + 1e-9 * bound
                assert total <= bound + slack, (start, end, total, bound, self.epochs)
                total += n


def clock_reading(clock: Clock) -> float:
    """The time the script sees: the limiter sends the clock with six decimals."""
    return float(f"{clock.now:.6f}")


async def apply(limiter: RateLimiter, budget: Budget, clock: Clock, op: str, value: float | None) -> None:
    """Run one operation against the real script and keep the test's record of it."""
    if op == "throttle":
        await limiter.throttled("smart", value)
        return
    assert value is not None
    if op == "wait":
        clock.now += value / 1_000_000
    elif op == "acquire":
        if await limiter.try_acquire("smart", int(value)) == 0.0:
            budget.admissions.append((clock_reading(clock), int(value), len(budget.epochs) - 1))
    else:
        await change(limiter, budget, op, value)


async def change(limiter: RateLimiter, budget: Budget, op: str, value: float) -> None:
    """Set the rate or the burst: refused (nothing changes) exactly when the value is outside its range."""
    allowed = RATE if op == "rate" else BURST
    rate, burst = (value, budget.burst) if op == "rate" else (budget.rate, value)
    try:
        info = await limiter.set_rate("smart", rate, burst_seconds=burst)
    except ConfigError:
        assert allowed.problem(value) is not None, f"{op} {value} refused"
        info = await limiter.get_rate("smart")
    else:
        assert allowed.problem(value) is None, f"{op} {value} accepted"
        budget.change(rate, burst)
    assert (info.rate, info.burst_seconds) == (budget.rate, budget.burst)  # stored exactly


async def assert_still_closes(limiter: RateLimiter, budget: Budget, clock: Clock) -> None:
    """A call beyond the burst is refused, with a finite wait, whatever came before."""
    info = await limiter.get_rate("smart")
    assert all(math.isfinite(x) for x in (info.rate, info.effective, info.factor, info.backlog)), info
    beyond = math.ceil(info.effective * info.burst_seconds) + 1
    if await limiter.try_acquire("smart", beyond) == 0.0:
        budget.admissions.append((clock_reading(clock), beyond, len(budget.epochs) - 1))
    wait = await limiter.try_acquire("smart", 1)
    assert 0.0 < wait < math.inf, (wait, info)


@settings(
    max_examples=200,
    deadline=None,
    database=None,  # no .hypothesis directory in the repository
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # the key is deleted per example
)
@given(
    rate=inside(RATE),
    burst=inside(BURST),
    throttle_factor=st.floats(0.05, 0.95),
    recover_seconds=st.floats(0.1, 30.0),
    operations=st.lists(OPERATIONS, max_size=40),
)
async def test_admissions_stay_within_rate_times_time_plus_burst_and_nothing_switches_the_budget_off(
    redis_client: aioredis.Redis,
    rate: float,
    burst: float,
    throttle_factor: float,
    recover_seconds: float,
    operations: list[tuple[str, float | None]],
) -> None:
    await redis_client.delete(keys.rate("smart"))
    clock = Clock()
    rates = RateSettings(
        smart=rate, burst_seconds=burst, throttle_factor=throttle_factor, recover_seconds=recover_seconds
    )
    limiter = RateLimiter(redis_client, rates, clock=clock)
    budget = Budget(rate, burst)

    for op, value in operations:
        await apply(limiter, budget, clock, op, value)
    await assert_still_closes(limiter, budget, clock)
    budget.check_bound(len(operations) + 2)
