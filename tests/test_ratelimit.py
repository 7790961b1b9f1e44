"""Shared rate budgets: GCRA decisions, live rates, throttling back-off and the in-flight cap, on real Redis.

Decisions are checked with an injected clock, so no assertion depends on how fast this machine runs;
the tests with real processes assert on counts and bounds taken from Redis TIME.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from engine.budget import limiter as ratelimit
from engine.budget import line as budget_line
from engine.budget.limiter import CHANNELS, MIN_FACTOR, RELEASE_DELAY, RateLimiter
from engine.errors import ConfigError
from engine.runtime.settings import RateSettings
from engine.store import keys

# 100 numbers/s with 0.1 s of burst (10 numbers); recovering from throttling over 10 s.
RATES = RateSettings(
    smart=100.0, burst_seconds=0.1, max_in_flight=2, throttle_factor=0.5, recover_seconds=10.0
)
T0 = 1_700_000_000.0
APPROX = 1e-5


class Clock:
    """A settable stand-in for Redis TIME."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


MakeLimiter = Callable[..., RateLimiter]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def make_limiter(redis_url: str) -> AsyncIterator[MakeLimiter]:
    """Build limiters that each own a connection, like separate workers; closes them at the end."""
    clients: list[aioredis.Redis] = []

    def make(settings: RateSettings = RATES, **kwargs: Any) -> RateLimiter:
        client = aioredis.Redis.from_url(redis_url)
        clients.append(client)
        return RateLimiter(client, settings, **kwargs)

    yield make
    for client in clients:
        await client.aclose()


class AdmitCounter:
    """Counts the admissions (``rate.lua`` admit runs) a limiter sends to Redis."""

    def __init__(self, limiter: RateLimiter, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        run_rate = limiter._run_rate

        async def counted(op: str, *args: Any, **kwargs: Any) -> Any:
            self.count += op == "admit"
            return await run_rate(op, *args, **kwargs)

        monkeypatch.setattr(limiter, "_run_rate", counted)


async def redis_now(client: aioredis.Redis) -> float:
    seconds, micros = await client.time()
    return float(seconds) + float(micros) / 1_000_000


async def spawn(code: str, *args: object) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        *map(str, args),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )


async def read_line(process: asyncio.subprocess.Process) -> bytes:
    assert process.stdout is not None
    return await process.stdout.readline()


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
    ("channel", "rate", "burst"),
    [("smart", 0.0, None), ("smart", -5.0, None), ("smart", math.inf, None), ("smart", math.nan, None),
     ("smart", 10.0, 0.0), ("fax", 10.0, None)],
)  # fmt: skip
async def test_set_rate_rejects_bad_input(
    make_limiter: MakeLimiter, channel: Any, rate: float, burst: float | None
) -> None:
    with pytest.raises(ConfigError, match=channel):
        await make_limiter().set_rate(channel, rate, burst_seconds=burst)


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


async def enter(limiter: RateLimiter, stack: contextlib.AsyncExitStack) -> None:
    await stack.enter_async_context(limiter.slot("smart"))


async def test_slot_beyond_the_cap_waits_for_a_release_in_another_worker(make_limiter: MakeLimiter) -> None:
    holder, waiter = make_limiter(), make_limiter()
    async with contextlib.AsyncExitStack() as first, contextlib.AsyncExitStack() as rest:
        await enter(holder, first)
        await enter(holder, rest)
        third = asyncio.create_task(enter(waiter, rest))
        await asyncio.sleep(0.3)
        assert not third.done()
        assert (await waiter.get_rate("smart")).in_flight == 2

        await first.aclose()
        await asyncio.wait_for(third, 10)
        assert (await waiter.get_rate("smart")).in_flight == 2
        assert waiter.slot_wait_seconds["smart"] > 0
    assert (await waiter.get_rate("smart")).in_flight == 0


async def test_slot_is_released_on_exception_and_cancellation(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter()
    with pytest.raises(RuntimeError):
        async with limiter.slot("smart"):
            raise RuntimeError("provider call failed")
    assert (await limiter.get_rate("smart")).in_flight == 0

    async def hold() -> None:
        async with limiter.slot("smart"):
            await asyncio.sleep(3600)

    holders = [asyncio.create_task(hold()) for _ in range(2)]
    waiting = asyncio.create_task(hold())  # the cap is full: it keeps polling
    await asyncio.sleep(0.2)
    assert (await limiter.get_rate("smart")).in_flight == 2
    for task in [waiting, *holders]:
        task.cancel()
    await asyncio.gather(*holders, waiting, return_exceptions=True)
    assert (await limiter.get_rate("smart")).in_flight == 0


async def test_slot_of_a_killed_worker_is_reclaimed_after_its_lease(
    make_limiter: MakeLimiter, redis_client: aioredis.Redis, redis_url: str
) -> None:
    worker = await spawn(SLOT_HOLDER, redis_url, RATES.max_in_flight)
    async with asyncio.timeout(60):
        assert await read_line(worker) == b"held\n"
    worker.kill()  # SIGKILL: no finally block runs
    await worker.wait()

    survivor = make_limiter()
    assert (await survivor.get_rate("smart")).in_flight == RATES.max_in_flight
    with pytest.raises(TimeoutError):
        async with survivor.slot("smart", max_wait=0.2):
            pass

    after_lease = await redis_now(redis_client) + 3601
    later = make_limiter(clock=lambda: after_lease)
    async with later.slot("smart", max_wait=10):
        assert (await later.get_rate("smart")).in_flight == 1


SLOT_HOLDER = """
import asyncio, contextlib, sys
import redis.asyncio as aioredis
from engine.budget.limiter import RateLimiter
from engine.runtime.settings import RateSettings

async def main(url, slots):
    limiter = RateLimiter(aioredis.Redis.from_url(url), RateSettings(max_in_flight=slots), lease_seconds=3600)
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(slots):
            await stack.enter_async_context(limiter.slot("smart"))
        print("held", flush=True)
        await asyncio.sleep(3600)

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


# --- the dispatcher's helper -----------------------------------------------------------------------


async def test_call_holds_a_slot_and_charges_the_budget(make_limiter: MakeLimiter, clock: Clock) -> None:
    limiter = make_limiter(clock=clock)
    async with limiter.call("smart", 5):
        info = await limiter.get_rate("smart")
        assert (info.in_flight, info.backlog) == (1, pytest.approx(0.05, abs=APPROX))
    assert (await limiter.get_rate("smart")).in_flight == 0


async def test_call_that_gives_up_releases_its_slot(make_limiter: MakeLimiter, clock: Clock) -> None:
    limiter = make_limiter(clock=clock)
    await limiter.try_acquire("smart", 1000)
    with pytest.raises(TimeoutError):
        async with limiter.call("smart", 5, max_wait=0.1):
            pytest.fail("admitted against an exhausted budget")
    info = await limiter.get_rate("smart")
    assert (info.in_flight, info.backlog) == (0, pytest.approx(10.0, abs=APPROX))
    assert limiter.budget_wait_seconds["smart"] > 0


async def test_an_ended_calls_slot_goes_back_with_the_next_admission(
    make_limiter: MakeLimiter, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No round trip of its own while calls keep coming: the next admission frees it in the same run."""
    monkeypatch.setattr(ratelimit, "RELEASE_DELAY", 3600.0)  # no timed flush during this test
    limiter = make_limiter()
    observer = aioredis.Redis.from_url(redis_url)
    try:
        async with limiter.call("smart", 1):
            pass
        assert await observer.zcard(keys.in_flight("smart")) == 1, "not freed by a round trip of its own"
        async with limiter.call("smart", 1):
            assert await observer.zcard(keys.in_flight("smart")) == 1, "the admission freed the ended call's"
        await limiter.close()
        assert await observer.zcard(keys.in_flight("smart")) == 0, "a stopping worker frees what it holds"
    finally:
        await observer.aclose()


async def test_an_ended_calls_slot_is_freed_soon_when_no_call_follows(
    make_limiter: MakeLimiter, redis_url: str
) -> None:
    limiter = make_limiter()
    observer = aioredis.Redis.from_url(redis_url)
    try:
        async with limiter.call("smart", 1):
            pass
        for _ in range(200):
            if await observer.zcard(keys.in_flight("smart")) == 0:
                break
            await asyncio.sleep(RELEASE_DELAY)
        assert await observer.zcard(keys.in_flight("smart")) == 0
    finally:
        await observer.aclose()


async def test_a_call_that_ends_hands_its_slot_to_an_admission_waiting_in_the_same_process(
    make_limiter: MakeLimiter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a full cap, an ended call wakes a waiting admission, which takes the freed slot at once."""
    monkeypatch.setattr(ratelimit, "SLOT_POLL", 3600.0)  # asking again on its own would take an hour
    monkeypatch.setattr(ratelimit, "MAX_SLEEP", 3600.0)
    monkeypatch.setattr(ratelimit, "RELEASE_DELAY", 3600.0)  # and no timed flush frees the slot either
    here, elsewhere = make_limiter(), make_limiter()  # the cap of 2 is shared with another worker
    first_done = asyncio.Event()

    async def first() -> None:
        async with here.call("smart", 1):
            await first_done.wait()

    async with asyncio.TaskGroup() as group:
        group.create_task(first())
        async with elsewhere.call("smart", 1):  # the cap is full now
            await asyncio.sleep(0.05)
            waiting = group.create_task(_admitted(here))
            await asyncio.sleep(0.2)
            assert not waiting.done(), "admitted past a full cap"
            first_done.set()
            async with asyncio.timeout(10):
                await waiting  # woken by the ended call, while the other worker still holds its slot
    assert here.slot_wait_seconds["smart"] > 0


async def test_admissions_wait_in_line_behind_a_slot_waiter_of_their_process_without_asking_redis(
    make_limiter: MakeLimiter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a full cap, a new admission of a process that already has one waiting for a slot does not ask
    Redis for a slot it cannot get: it waits behind, woken in turn by the calls that end here."""
    monkeypatch.setattr(ratelimit, "SLOT_POLL", 3600.0)  # only an ended call wakes a waiter
    monkeypatch.setattr(ratelimit, "MAX_SLEEP", 3600.0)
    monkeypatch.setattr(ratelimit, "RELEASE_DELAY", 3600.0)
    settings = RATES.model_copy(update={"max_in_flight": 4})  # 4 calls in flight here pass the local gate
    here, elsewhere = make_limiter(settings), make_limiter(settings)  # the cap of 4 is shared by both
    admits = AdmitCounter(here, monkeypatch)
    release, release_elsewhere = asyncio.Event(), asyncio.Event()
    order: list[str] = []

    async def holder(limiter: RateLimiter, event: asyncio.Event) -> None:
        async with limiter.call("smart", 1):
            await event.wait()

    async def call(name: str) -> None:
        async with here.call("smart", 1):
            order.append(name)

    async with asyncio.TaskGroup() as group:
        for _ in range(3):
            group.create_task(holder(elsewhere, release_elsewhere))
        await asyncio.sleep(0.05)
        group.create_task(holder(here, release))  # the cap is full now
        await asyncio.sleep(0.05)
        try:
            first = group.create_task(call("first"))
            await asyncio.sleep(0.2)
            asked = admits.count  # the holder's admission and the first's refused one
            second = group.create_task(call("second"))
            third = group.create_task(call("third"))
            await asyncio.sleep(0.2)
            assert admits.count == asked, "asked Redis while a call of this process already waits for a slot"
            assert not (first.done() or second.done() or third.done()), "admitted past a full cap"
            release.set()  # the holder ends: its slot goes to the first in line, whose end frees it on
            async with asyncio.timeout(10):
                await asyncio.gather(first, second, third)
        finally:
            release_elsewhere.set()
    assert order == ["first", "second", "third"]


async def _admitted(limiter: RateLimiter) -> None:
    async with limiter.call("smart", 1):
        pass


# --- the budget line of a process --------------------------------------------------------------------

LINED = RATES.model_copy(update={"max_in_flight": 20})  # slots never bind: only the budget makes calls wait
SPENDS_IT = 15  # numbers per call: 0.15 s of budget, over the 0.1 s burst, so each call but the first waits


async def _calls(limiter: RateLimiter, order: float, count: int, admitted: list[float]) -> None:
    """``count`` calls at once from a context whose admissions stand at ``order`` (a batch's job)."""
    budget_line.ADMISSION_ORDER.set((order, 0.0))  # this task's context, inherited by the calls' tasks

    async def call() -> None:
        async with limiter.call("smart", SPENDS_IT):
            admitted.append(order)

    async with asyncio.TaskGroup() as group:
        for _ in range(count):
            group.create_task(call())


async def test_a_process_serves_its_budget_waiters_lowest_order_first_and_only_the_first_asks_redis(
    make_limiter: MakeLimiter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the budget makes a process's calls wait, they go in ADMISSION_ORDER, not by arrival: calls of
    an older batch that arrive later still go before the younger batch's waiting ones, so the older batch
    finishes its stage first. Waiters behind the first in line do not ask Redis."""
    limiter = make_limiter(LINED)
    asks = AdmitCounter(limiter, monkeypatch)
    admitted: list[float] = []
    async with asyncio.TaskGroup() as group:
        group.create_task(_calls(limiter, 2.0, 5, admitted))  # admitted at 0, 0.05, 0.2, 0.35, 0.5 s alone
        await asyncio.sleep(0.1)  # the younger batch's third call holds the turn, two more wait behind it
        group.create_task(_calls(limiter, 1.0, 5, admitted))
    assert admitted == [2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0]
    # 5 first attempts, then about two per later call (refused once on its turn, then admitted); every
    # waiter asking on its own would ask at every pause of up to 0.25 s for 1.5 s
    assert asks.count <= 5 + 3 * 9, asks.count


async def test_a_budget_waiter_that_gives_up_hands_its_turn_on(make_limiter: MakeLimiter) -> None:
    """Cancelled while it holds the turn or waits for it, an admission leaves the line working for the
    rest of its process."""
    limiter = make_limiter(LINED)
    admitted: list[float] = []
    await _calls(limiter, 0.0, 1, admitted)  # the budget is spent for the next 0.05 s
    holder = asyncio.create_task(_calls(limiter, 1.0, 1, admitted))
    await asyncio.sleep(0.01)  # refused: it holds the turn and sleeps
    waiter = asyncio.create_task(_calls(limiter, 2.0, 1, admitted))
    last = asyncio.create_task(_calls(limiter, 3.0, 1, admitted))
    await asyncio.sleep(0.01)  # both wait behind the holder without asking
    holder.cancel()
    waiter.cancel()
    async with asyncio.timeout(5):
        await last
    assert admitted == [0.0, 3.0]
    assert holder.cancelled() and waiter.cancelled()


async def test_a_turn_handed_to_a_waiter_that_was_just_cancelled_goes_on() -> None:
    line = budget_line.BudgetLine()
    await line.take((1.0, 0.0))  # held at once
    waiter = asyncio.create_task(line.take((2.0, 0.0)))
    await asyncio.sleep(0)  # in line
    line.hand_on()  # the turn is the waiter's, but it is cancelled before it resumes
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert not line.held
    async with asyncio.timeout(1):
        await line.take((3.0, 0.0))  # nobody holds it: at once
