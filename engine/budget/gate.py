"""A process's gate to a channel: ``max_in_flight`` permits, handed out fairly among campaigns when all are
taken.

Every provider call of a process holds a permit from before it asks for budget until it ends, so that the
process never asks Redis for more slots than the channel has. Calls waiting for budget hold theirs too. A
plain semaphore serves waiters first come, first served: with twenty campaigns of dozens of batches each,
the permits end up held by the calls of the campaigns that came first, waiting for their share of the
budget, and the calls of the others never get as far as asking for theirs. Not asking, they count as idle
in the shares (``store/lua/shares.lua``), which then give their share to the campaigns that ask: the late
campaigns starved for seconds and shares followed batch counts, not weights. Here a freed permit goes to
the campaign holding the fewest, so every campaign with calls waiting gets some and asks; the shares in
Redis then weigh them.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter, deque


class FairGate:
    """``permits`` permits for the calls of one channel in one process; when none is free, each freed permit
    goes to the waiting campaign (tenant) that holds the fewest, ties to the one waiting longest."""

    __slots__ = ("_free", "_held", "_serial", "_waiting")

    def __init__(self, permits: int) -> None:
        self._free = permits
        self._held: Counter[str] = Counter()
        self._waiting: dict[str, deque[tuple[int, asyncio.Future[None]]]] = {}
        self._serial = itertools.count()

    def locked(self) -> bool:
        """Whether a call would wait now."""
        return self._free <= 0 or bool(self._waiting)

    def held(self, tenant: str) -> int:
        return self._held[tenant]

    async def acquire(self, tenant: str) -> None:
        """Take a permit for a call of ``tenant``, waiting for one when none is free."""
        if not self.locked():
            self._free -= 1
            self._held[tenant] += 1
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (next(self._serial), granted)
        self._waiting.setdefault(tenant, deque()).append(entry)
        try:
            await granted
        except BaseException:
            if granted.done() and not granted.cancelled():  # granted as the caller gave up: pass it on
                self.release(tenant)
            else:
                self._forget(tenant, entry)
            raise

    def release(self, tenant: str) -> None:
        """Give back ``tenant``'s permit: to the waiting campaign holding the fewest, else back as free."""
        self._held[tenant] -= 1
        if self._held[tenant] <= 0:
            del self._held[tenant]
        while self._waiting:
            chosen = min(self._waiting, key=lambda t: (self._held[t], self._waiting[t][0][0]))
            queue = self._waiting[chosen]
            _, granted = queue.popleft()
            if not queue:
                del self._waiting[chosen]
            if not granted.done():  # a waiter cancelled meanwhile is skipped
                self._held[chosen] += 1
                granted.set_result(None)
                return
        self._free += 1

    def _forget(self, tenant: str, entry: tuple[int, asyncio.Future[None]]) -> None:
        queue = self._waiting.get(tenant)
        if queue is not None and entry in queue:
            queue.remove(entry)
            if not queue:
                del self._waiting[tenant]
