"""Admissions: the in-flight cap, the dispatcher's call helper and a process's budget line, on real Redis."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import redis.asyncio as aioredis

from engine.budget import limiter as ratelimit
from engine.budget import slots
from engine.budget.limiter import RateLimiter
from engine.budget.records import Caller
from engine.budget.slots import RELEASE_DELAY
from engine.store import keys
from tests.budget.limiters import APPROX, RATES, AdmitCounter, Clock, MakeLimiter, read_line, redis_now, spawn


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
    monkeypatch.setattr(slots, "RELEASE_DELAY", 3600.0)  # no timed flush during this test
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
    monkeypatch.setattr(slots, "SLOT_POLL", 3600.0)  # asking again on its own would take an hour
    monkeypatch.setattr(ratelimit, "MAX_SLEEP", 3600.0)
    monkeypatch.setattr(slots, "RELEASE_DELAY", 3600.0)  # and no timed flush frees the slot either
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
    monkeypatch.setattr(slots, "SLOT_POLL", 3600.0)  # only an ended call wakes a waiter
    monkeypatch.setattr(ratelimit, "MAX_SLEEP", 3600.0)
    monkeypatch.setattr(slots, "RELEASE_DELAY", 3600.0)
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


LINED = RATES.model_copy(update={"max_in_flight": 20})  # slots never bind: only the budget makes calls wait


SPENDS_IT = 15  # numbers per call: 0.15 s of budget, over the 0.1 s burst, so each call but the first waits


async def _calls(limiter: RateLimiter, order: float, count: int, admitted: list[float]) -> None:
    """``count`` calls at once of a caller whose admissions stand at ``order`` (a batch's job)."""
    caller = Caller(order=(order, 0.0))

    async def call() -> None:
        async with limiter.call("smart", SPENDS_IT, caller=caller):
            admitted.append(order)

    async with asyncio.TaskGroup() as group:
        for _ in range(count):
            group.create_task(call())


async def test_a_process_serves_its_budget_waiters_lowest_order_first_and_only_the_first_asks_redis(
    make_limiter: MakeLimiter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the budget makes a process's calls wait, they go by their callers' order, not by arrival: calls
    of an older batch that arrive later still go before the younger batch's waiting ones, so the older batch
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
