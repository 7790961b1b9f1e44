"""A process's side of the in-flight slots: ended calls' slots handed back cheaply, slot waits kept local.

Every provider call holds one of its channel's ``max_in_flight`` slots, shared in Redis by every worker
(``lua/in_flight.lua``). An ended call's slot costs no round trip of its own: the next admission of this
process frees it in its own script run (``rate.lua`` admit), or a flush does RELEASE_DELAY later when no call
follows. Admissions of this process that found the cap full wait here, woken one per call that ends here.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from typing import Final

import redis.asyncio as aioredis

from engine.store import keys
from engine.types import CHANNELS, Channel

log = logging.getLogger(__name__)
SLOT_POLL: Final = 0.02  # mean pause between attempts at a full in-flight cap, jittered ±50%
RELEASE_DELAY: Final = 0.003  # an ended call's slot waits this long for the next admission to free it


def slot_pause() -> float:
    """Jittered, so waiters of several workers do not ask again in lockstep."""
    return SLOT_POLL * random.uniform(0.5, 1.5)


class SlotReturns:
    """The slots of this process's ended calls, per channel, until an admission or a flush frees them."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis
        self._ended: dict[Channel, list[str]] = {channel: [] for channel in CHANNELS}
        self._flush_due: set[Channel] = set()
        self._flushes: set[asyncio.Future[None]] = set()
        # admissions of this process waiting for a slot at a full cap, woken one per call that ends here
        self._waiters: dict[Channel, deque[asyncio.Future[None]]] = {c: deque() for c in CHANNELS}

    def waiting(self, channel: Channel) -> bool:
        """Whether admissions of this process wait for a slot of ``channel`` at a full cap."""
        return bool(self._waiters[channel])

    def take(self, channel: Channel) -> list[str]:
        """The ended calls' tokens for an admission to free in its script run (``put_back`` if it fails)."""
        ended, self._ended[channel] = self._ended[channel], []
        return ended

    def put_back(self, channel: Channel, tokens: list[str]) -> None:
        """Tokens of an admission not known to have run: freed again later (ZREM is idempotent)."""
        self._ended[channel].extend(tokens)

    async def freed(self, channel: Channel, pause: float) -> None:
        """Wait until a call of this process on ``channel`` ends, or ``pause`` passed (a slot freed by
        another process is only seen by asking again): the woken admission frees the ended call's slot
        and takes it in one script run, where polling alone would leave it idle for SLOT_POLL/2 on
        average."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        waiters = self._waiters[channel]
        waiters.append(waiter)
        timer = loop.call_later(pause, _stop_waiting, waiters, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            if waiter.cancelled():  # with its caller: out of the line, so no ended call wakes it
                waiters.remove(waiter)

    def ended(self, channel: Channel, token: str) -> None:
        """A call ended: its slot is freed by the next admission (a waiting one is woken for it), or by a
        flush RELEASE_DELAY from now."""
        self._ended[channel].append(token)
        waiters = self._waiters[channel]
        if waiters:
            waiters.popleft().set_result(None)
        if channel not in self._flush_due:
            self._flush_due.add(channel)
            asyncio.get_running_loop().call_later(RELEASE_DELAY, self._start_flush, channel)

    def _start_flush(self, channel: Channel) -> None:
        self._flush_due.discard(channel)
        if self._ended[channel]:
            task = asyncio.ensure_future(self.flush(channel))
            self._flushes.add(task)
            task.add_done_callback(self._flush_done)

    def _flush_done(self, task: asyncio.Future[None]) -> None:
        self._flushes.discard(task)
        if not task.cancelled() and task.exception() is not None:  # the slots expire with their lease
            log.warning("releasing in-flight slots failed: %s", task.exception())

    async def flush(self, channel: Channel) -> None:
        """Free the slots of this process's ended calls on ``channel`` now."""
        ended = self.take(channel)
        if ended:
            await self.release(channel, *ended)

    async def close(self) -> None:
        """Free every ended call's slot before the process stops (a killed one's expire with their lease)."""
        await asyncio.gather(*self._flushes, return_exceptions=True)
        for channel in CHANNELS:
            await self.flush(channel)

    async def release(self, channel: Channel, *tokens: str) -> None:
        """Free these slots now; shielded: a second cancellation must not leave them to expire."""
        await asyncio.shield(self._redis.zrem(keys.in_flight(channel), *tokens))


def _stop_waiting(waiters: deque[asyncio.Future[None]], waiter: asyncio.Future[None]) -> None:
    """A slot waiter's pause is over: out of the line (``ended`` wakes only waiters still in it)."""
    if not waiter.done():
        waiters.remove(waiter)
        waiter.set_result(None)
