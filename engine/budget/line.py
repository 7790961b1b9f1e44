"""A process's line for a channel's rate budget: calls the budget makes wait take turns, first in order.

The limiter (``engine/budget/limiter.py``) admits calls against a budget shared in Redis by every worker.
Within one process, the calls it makes wait queue here: one of them sleeps and asks Redis again, the rest wait
without asking, and the turn goes to the lowest order (``Caller.order``), not to whoever came first.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools

from engine.budget.records import Order


class Turn:
    """One admission's place in its process's :class:`BudgetLine` of a channel, by its caller's order:
    taken on its first budget refusal (or before its first attempt when others wait already), held while
    it sleeps for budget and asks again, and handed on when it is admitted or gives up."""

    __slots__ = ("held", "line", "order")

    def __init__(self, line: BudgetLine, order: Order) -> None:
        self.line = line
        self.order = order
        self.held = False

    async def take(self) -> None:
        await self.line.take(self.order)
        self.held = True

    async def pause(self, seconds: float) -> None:
        """Sleep ``seconds`` for the budget holding the turn, taking it first."""
        if not self.held:
            behind = self.line.held
            await self.take()
            if behind:  # its turn came when the holder was admitted, so the budget has room: ask at once
                return
        await asyncio.sleep(seconds)

    def leave(self) -> None:
        if self.held:
            self.held = False
            self.line.hand_on()


class BudgetLine:
    """The admissions of one process that a channel's budget made wait, served lowest order first.

    One of them holds the turn: it sleeps until the budget has room and asks Redis again. The others wait
    here without asking, and the turn goes to the first of them in order once the holder is admitted or
    gives up. Order, not arrival, decides: arrival would serve a process's batches round and round.
    """

    __slots__ = ("_serial", "_waiting", "held")

    def __init__(self) -> None:
        self.held = False
        self._waiting: list[tuple[Order, int, asyncio.Future[None]]] = []
        self._serial = itertools.count()  # equal orders in arrival order

    async def take(self, order: Order) -> None:
        """Wait for the turn: at once when nobody holds it."""
        if not self.held:
            self.held = True
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (order, next(self._serial), turn))
        try:
            await turn
        except BaseException:
            if turn.done() and not turn.cancelled():  # handed the turn as the caller gave up: pass it on
                self.hand_on()
            raise  # a cancelled turn stays in the heap; ``hand_on`` skips it

    def hand_on(self) -> None:
        """The holder is done with the turn: it goes to the first waiter in order, or to nobody."""
        while self._waiting:
            turn = heapq.heappop(self._waiting)[2]
            if not turn.done():
                turn.set_result(None)
                return
        self.held = False
