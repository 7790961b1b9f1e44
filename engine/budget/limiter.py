"""Rate budgets per provider channel, shared in Redis by every worker on every machine (invariant 2).

Each channel has a GCRA budget charged by message count (``lua/rate.lua``) that backs off when the
provider throttles and recovers gradually, plus a cap on calls in flight (``lua/in_flight.lua``); a
provider call takes both in one script run (``rate.lua`` admit).
Rates are live settings in Redis: a change reaches every worker on its next call, without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Final, Literal

import redis.asyncio as aioredis

from engine.budget.admission import Admission
from engine.budget.gate import FairGate
from engine.budget.line import BudgetLine, Turn
from engine.budget.records import ANONYMOUS, Caller, Order, RateInfo
from engine.budget.slots import SlotReturns, slot_pause
from engine.runtime import metrics
from engine.runtime.ranges import BURST, RATE, check_rate
from engine.runtime.settings import RateSettings
from engine.store import keys
from engine.store.coalesce import CoalescedScript
from engine.store.scripts import load_script
from engine.types import CHANNELS, Channel

if TYPE_CHECKING:
    from engine.state.progress import Mark

log = logging.getLogger(__name__)
MIN_FACTOR: Final = 0.05  # however often the provider throttles, a channel keeps 5% of its rate
ASKING_SECONDS: Final = 1.0  # a campaign counts as asking for a channel this long after it last asked
MAX_SLEEP: Final = 0.25  # waiters ask again at least this often, so a raised rate reaches them fast
WaitKind = Literal["budget", "slot"]
Attempt = Callable[[], Awaitable[tuple[float, WaitKind]]]  # (0 = admitted, else seconds to pause; why)


class RateLimiter:
    """Admits provider calls of every worker against one budget and one in-flight cap per channel.

    ``settings`` gives the defaults of the live rates (see ``ensure_defaults``) and the throttling
    policy. ``lease_seconds`` bounds how long a slot of a dead worker blocks capacity (a slot taken under a
    batch lease is freed sooner, when the batch is taken over); it must exceed the longest provider call
    (connect + read timeout), since slots are not renewed. ``throttle_hold`` is how long after a back-off
    further throttling answers are taken as replies to calls sent before it and do not lower the rate
    again. ``clock`` replaces Redis TIME, for tests only.

    ``budget_wait_seconds`` and ``slot_wait_seconds`` sum the time callers spent waiting, per channel,
    for the dispatcher's metrics.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        settings: RateSettings,
        *,
        lease_seconds: float = 60.0,
        throttle_hold: float = 1.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._redis = redis
        self._settings = settings
        self._lease = lease_seconds
        self._hold = throttle_hold
        self._clock = clock
        self._rate_script = CoalescedScript(redis, load_script(redis, "rate"))  # one per provider call
        self._slot_script = load_script(redis, "in_flight")
        self.budget_wait_seconds: dict[Channel, float] = dict.fromkeys(CHANNELS, 0.0)
        self.slot_wait_seconds: dict[Channel, float] = dict.fromkeys(CHANNELS, 0.0)
        self._waited = {"budget": self.budget_wait_seconds, "slot": self.slot_wait_seconds}
        self._local = {channel: FairGate(settings.max_in_flight) for channel in CHANNELS}
        self._slots = SlotReturns(redis)
        self._token_prefix = uuid.uuid4().hex[:16]  # unique per limiter; a serial number per call after it
        self._serial = itertools.count()
        self._budget_lines: dict[tuple[Channel, str], BudgetLine] = defaultdict(BudgetLine)
        # what every rate.lua run of a channel sends besides its operation: its keys, the default rate and
        # burst, their allowed ranges and the throttling policy (ARGV[3..12]); built once, since every
        # provider call sends them
        ranges = (RATE.low, RATE.high, BURST.low, BURST.high)
        policy = (settings.throttle_factor, MIN_FACTOR, settings.recover_seconds, throttle_hold)
        self._rate_call = {
            channel: (
                (
                    keys.rate(channel),
                    keys.in_flight(channel),
                    keys.rate_buckets(channel),
                    keys.rate_active(channel),
                    keys.TENANTS,
                ),
                (self._default_rate(channel), settings.burst_seconds, *ranges, *policy),
            )
            for channel in CHANNELS
        }
        # what an admission of a campaign's call sends after the campaign (ARGV[21..23], rate.lua)
        self._share_call = {channel: (settings.min_share, ASKING_SECONDS, channel) for channel in CHANNELS}

    def _new_token(self, lease_token: str = "") -> str:
        """A slot token no other call of any worker holds: ``uuid4`` per call cost a system call each.

        A call made under a batch lease is tagged ``<lease token>#<serial>`` (``Caller.lease_token``): when
        the holder dies, the run that takes the batch over frees its slots as it takes the lease.
        """
        if lease_token:
            return f"{lease_token}#{next(self._serial)}"
        return f"{self._token_prefix}:{next(self._serial)}"

    async def ensure_defaults(self) -> None:
        """Write the configured rate and burst of every channel unless Redis already has them.

        Called at worker startup; HSETNX keeps a rate changed live (``set_rate``) across restarts.
        """
        async with self._redis.pipeline(transaction=False) as pipe:
            for channel in CHANNELS:
                pipe.hsetnx(keys.rate(channel), "rate", str(self._default_rate(channel)))
                pipe.hsetnx(keys.rate(channel), "burst", str(self._settings.burst_seconds))
            await pipe.execute()

    async def try_acquire(self, channel: Channel, n: int) -> float:
        """Charge ``n`` numbers if the budget admits them now: return 0.0, else the seconds to wait.

        A call larger than the burst is admitted once the budget is idle and delays the calls after
        it, so no ``n`` waits forever. Raises ValueError when ``n`` < 1.
        """
        return float(await self._run_rate("acquire", channel, count(n)))

    async def acquire(
        self, channel: Channel, n: int, *, max_wait: float | None = None, caller: Caller = ANONYMOUS
    ) -> None:
        """Wait until the budget of ``channel`` admits ``n`` numbers, and charge them; waits take turns in
        this process by ``caller.order``.

        Raises TimeoutError after ``max_wait`` seconds without admission; nothing is charged then,
        unless the deadline cut off the reply of the very attempt that was admitted.
        """
        line = (self._line(channel, caller.tenant), caller.order)
        async with asyncio.timeout(max_wait):
            await self._wait(channel, partial(self._charge, channel, n), line=line)

    @contextlib.asynccontextmanager
    async def slot(
        self, channel: Channel, *, max_wait: float | None = None, caller: Caller = ANONYMOUS
    ) -> AsyncIterator[None]:
        """Hold one of the ``max_in_flight`` call slots of ``channel`` for the body of the block.

        Waits (polling with jitter) while every slot is taken; raises TimeoutError after ``max_wait``
        seconds. The slot is released on exit, also on an exception or cancellation; a slot whose
        holder died is reclaimed once its lease expires (or at the takeover of ``caller``'s batch).
        """
        token = self._new_token(caller.lease_token)
        try:
            async with asyncio.timeout(max_wait):
                await self._wait(channel, partial(self._take_slot, channel, token))
            yield
        finally:
            await self._slots.release(channel, token)

    def call(
        self,
        channel: Channel,
        n: int,
        *,
        max_wait: float | None = None,
        mark: Mark | None = None,
        checkpoint: Callable[[], Awaitable[None]] | None = None,
        caller: Caller = ANONYMOUS,
    ) -> Admission:
        """Hold a slot and charge ``n`` numbers: what the dispatcher wraps around one provider call
        (``async with limiter.call(...)``).

        Slot and budget are taken in one script run (``rate.lua`` admit), both or neither, so the call leaves
        right after admission and no slot is held while the budget makes it wait; with ``mark`` the same run
        journals the call (see :class:`Mark`). In front, a local gate of ``max_in_flight`` per channel
        (``gate.FairGate``, fair among campaigns): callers beyond it wait in this process, woken by a release,
        instead of polling Redis; while the budget
        makes this process's calls wait, they queue by ``caller.order`` and only the first asks Redis
        (``engine/budget/line.py``); the slot is tagged with ``caller.lease_token``. ``checkpoint`` runs
        before every attempt that follows a wait, so the admission that lets the call go always comes right
        after one. ``max_wait`` bounds the waits, not the body. The slot goes back with this process's next
        admission on the channel (the same script run), or RELEASE_DELAY after the call when none follows
        (``engine/budget/slots.py``): no round trip of its own while calls keep coming.
        Raises ValueError when ``n`` < 1, TimeoutError after ``max_wait``.
        """
        return Admission(self, channel, count(n), max_wait, mark, checkpoint, caller)

    async def throttled(self, channel: Channel, retry_after: float | None = None) -> RateInfo:
        """Back off after the provider throttled a call (HTTP 429 or its flow-control code).

        The effective rate drops by ``throttle_factor`` (not below MIN_FACTOR of the rate) and climbs
        back linearly over ``recover_seconds``; with ``retry_after`` nobody is admitted before it.
        """
        return await self._run_info("throttle", channel, "" if retry_after is None else retry_after)

    async def set_rate(
        self, channel: Channel, per_second: float, *, burst_seconds: float | None = None
    ) -> RateInfo:
        """Change the rate (and optionally the burst) of ``channel`` for every worker, at once.

        Numbers already admitted keep their count: their backlog is rescaled to the new rate.
        Raises ConfigError for an unknown channel or a value outside its range (``engine/runtime/ranges.py``).
        """
        check_rate(channel, per_second, burst_seconds)
        return await self._run_info(
            "set", channel, per_second, "" if burst_seconds is None else burst_seconds
        )

    async def get_rate(self, channel: Channel) -> RateInfo:
        """The budget of ``channel`` as every worker sees it now."""
        return await self._run_info("info", channel)

    async def get_rates(self) -> dict[Channel, RateInfo]:
        """The budgets of all channels, for ``koodispatch status``."""
        infos = await asyncio.gather(*(self.get_rate(channel) for channel in CHANNELS))
        return dict(zip(CHANNELS, infos, strict=True))

    async def _wait(
        self,
        channel: Channel,
        attempt: Attempt,
        queued: float = 0.0,
        checkpoint: Callable[[], Awaitable[None]] | None = None,
        line: tuple[BudgetLine, Order] | None = None,
    ) -> None:
        """Repeat ``attempt`` until it admits (pause 0) and add each pause to the wait of its kind;
        ``queued`` is slot wait already spent in front of the local gate; ``checkpoint`` runs after
        every pause. Budget waits take turns in ``line`` at the caller's order (see :class:`Turn`); ``slot``
        alone passes none, as its attempts never meet the budget."""
        waited: dict[WaitKind, float] = {"budget": 0.0, "slot": queued}
        # made only when needed: with budget to spare, no admission waits and none pays for a turn
        turn = Turn(*line) if line is not None and line[0].held else None  # others here wait for budget
        try:
            if turn is not None:
                await self._pause(waited, "budget", turn.take(), checkpoint)
            while (answer := await attempt())[0] > 0:
                pause, kind = answer
                if kind == "slot":
                    step = self._slots.freed(channel, pause)
                else:
                    assert line is not None, "a budget wait without a line"
                    turn = turn or Turn(*line)
                    step = turn.pause(min(pause, MAX_SLEEP))
                await self._pause(waited, kind, step, checkpoint)
        finally:
            if turn is not None:
                turn.leave()
            for kind, elapsed in waited.items():
                if elapsed > 0:
                    self._waited[kind][channel] += elapsed
                    metrics.rate_waited(channel, kind, elapsed)

    @staticmethod
    async def _pause(
        waited: dict[WaitKind, float],
        kind: WaitKind,
        step: Awaitable[None],
        checkpoint: Callable[[], Awaitable[None]] | None,
    ) -> None:
        """Await ``step``, count its time as a wait of ``kind``, then run ``checkpoint``."""
        started = time.monotonic()
        try:
            await step
        finally:
            waited[kind] += time.monotonic() - started
        if checkpoint is not None:
            await checkpoint()

    async def _charge(self, channel: Channel, n: int) -> tuple[float, WaitKind]:
        return await self.try_acquire(channel, n), "budget"

    async def _take_slot(self, channel: Channel, token: str) -> tuple[float, WaitKind]:
        taken, _ = await self._run_slot(channel, token)
        return (0.0 if taken else slot_pause()), "slot"

    def _line(self, channel: Channel, tenant: str) -> BudgetLine:
        """This process's line for a campaign's budget on ``channel``: each campaign waits in its own, so
        one whose share is spent never holds up another's turn."""
        return self._budget_lines[channel, tenant]

    async def _admit(
        self, channel: Channel, n: int, token: str, mark: Mark | None, tenant: str
    ) -> tuple[float, WaitKind]:
        """One admission attempt (``engine/budget/admission.py``): 0 when admitted, else the pause and why.
        The slots of calls that ended since the last admission go back in the same script run."""
        ended = self._slots.take(channel)
        journal: list[float | str | bytes] = ["", "", ""]
        journal_keys: list[str] = []
        sendable = ""
        if mark is not None:
            journal = [mark.token, mark.field, mark.entry()]
            journal_keys = [mark.lease_key, mark.journal, mark.campaign]
            sendable = mark.sendable
        args = [n, token, self._settings.max_in_flight, self._lease, *journal, tenant]
        args += [*self._share_call[channel], sendable, *ended]
        try:
            verdict, wait = await self._run_rate("admit", channel, *args, journal_keys=journal_keys)
        except BaseException:  # not known to have run: released again later (ZREM is idempotent)
            self._slots.put_back(channel, ended)
            raise
        if verdict == b"slot":
            return slot_pause(), "slot"
        if mark is not None and verdict in (b"lease", b"final", b"halt"):
            mark.refused(verdict.decode(), wait.decode())
        return float(wait), "budget"

    async def flush(self, channel: Channel) -> None:
        """Free the slots of this process's ended calls on ``channel`` now."""
        await self._slots.flush(channel)

    async def close(self) -> None:
        """Free every ended call's slot before the process stops (a killed one's expire with their lease)."""
        await self._slots.close()

    async def _run_info(self, op: str, channel: Channel, *args: float | str) -> RateInfo:
        await self.flush(channel)  # what this process reports counts none of its ended calls
        (rate, effective, factor, burst, backlog), (_, holders) = await asyncio.gather(
            self._run_rate(op, channel, *args), self._run_slot(channel, "")
        )
        return RateInfo(
            channel, float(rate), float(effective), float(factor), float(burst), float(backlog), holders
        )

    async def _run_rate(
        self, op: str, channel: Channel, *args: float | str | bytes, journal_keys: Sequence[str] = ()
    ) -> Any:
        names, static = self._rate_call[channel]
        argv: list[float | str | bytes] = [op, self._now(), *static, *args]
        # an admission that journals its call in flight must reach the replicas first (Unreplicated)
        return await self._rate_script(keys=[*names, *journal_keys], args=argv, durable=bool(journal_keys))

    async def _run_slot(self, channel: Channel, token: str) -> tuple[bool, int]:
        args: list[float | str] = [self._now(), token, self._settings.max_in_flight, self._lease]
        taken, holders = await self._slot_script(keys=[keys.in_flight(channel)], args=args)
        return bool(taken), int(holders)

    def _default_rate(self, channel: Channel) -> float:
        return float(getattr(self._settings, channel))

    def _now(self) -> str:
        """The clock argument of the scripts: empty for Redis TIME, the injected clock in tests."""
        return "" if self._clock is None else f"{self._clock():.6f}"


def count(n: int) -> int:
    """``n`` when it is a number count a provider call can carry; ValueError otherwise."""
    if n < 1:
        raise ValueError(f"a provider call carries at least one number, got n={n}")
    return n
