"""One provider call's admission: a slot of the channel's in-flight cap and its numbers charged to the
budget (and the campaign's share of it), taken on entry and the slot handed back on exit.

A plain class rather than an ``asynccontextmanager`` with an exit stack and a timeout scope: every provider
call goes through it, and the generator machinery cost a third of an admission's client CPU. It works on
its limiter's internals (``engine/budget/limiter.py``), which it is part of.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING

from engine.budget.records import Caller
from engine.budget.slots import slot_pause
from engine.types import Channel

if TYPE_CHECKING:
    from engine.budget.limiter import RateLimiter
    from engine.state.progress import Mark


class Admission:
    """``RateLimiter.call``'s context: admitted on entry, the slot handed back on exit."""

    __slots__ = (
        "_channel",
        "_checkpoint",
        "_limiter",
        "_mark",
        "_max_wait",
        "_n",
        "_order",
        "_tenant",
        "_token",
    )

    def __init__(
        self,
        limiter: RateLimiter,
        channel: Channel,
        n: int,
        max_wait: float | None,
        mark: Mark | None,
        checkpoint: Callable[[], Awaitable[None]] | None,
        caller: Caller,
    ) -> None:
        self._limiter = limiter
        self._channel = channel
        self._n = n
        self._max_wait = max_wait
        self._mark = mark
        self._checkpoint = checkpoint
        self._order = caller.order
        self._tenant = caller.tenant
        self._token = limiter._new_token(caller.lease_token)

    async def __aenter__(self) -> None:
        if self._max_wait is None:
            await self._enter()
        else:
            async with asyncio.timeout(self._max_wait):
                await self._enter()

    async def _enter(self) -> None:
        limiter, channel, checkpoint = self._limiter, self._channel, self._checkpoint
        local, slots = limiter._local[channel], limiter._slots
        started, waited = time.monotonic(), local.locked()
        await local.acquire(self._tenant)
        try:
            if slots.waiting(channel):
                # calls of this process already wait for a slot at a full cap: wait in line behind them
                # (woken by a call that ends here) instead of asking Redis for a slot it has not got
                await slots.freed(channel, slot_pause())
                waited = True
            queued = 0.0
            if waited:
                queued = time.monotonic() - started
                if checkpoint is not None:
                    await checkpoint()
            admit = partial(limiter._admit, channel, self._n, self._token, self._mark, self._tenant)
            line = (limiter._line(channel, self._tenant), self._order)
            await limiter._wait(channel, admit, queued=queued, checkpoint=checkpoint, line=line)
        except BaseException:
            self._release()
            raise

    async def __aexit__(self, *_: object) -> None:
        self._release()

    def _release(self) -> None:
        self._limiter._slots.ended(self._channel, self._token)
        self._limiter._local[self._channel].release(self._tenant)
