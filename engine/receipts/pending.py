"""Receipts whose task id is not mapped yet, held in memory for a few retries, bounded in count and bytes.

A receipt can overtake the journaling of its own send (the task id is mapped a moment after the answer), so
an unknown one is tried again after each of ``RETRY_DELAYS``. Most unknown receipts never match, though:
the callback URL is registered for the whole account, so sends made from the console report here too. The
set therefore holds at most ``max_count`` receipts and ``max_bytes`` of them, and drops the oldest first.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from engine.receipts.parse import Receipt

RETRY_DELAYS: Final = (0.5, 2.0, 8.0)
# A held receipt's memory: the slotted record, its deque slot and entry, its strings' headers (measured
# with tracemalloc at ~330 bytes for 20-character task ids); its strings' characters are added per receipt.
HELD_OVERHEAD: Final = 360


def held_bytes(receipt: Receipt) -> int:
    """The estimated memory one held receipt takes."""
    return HELD_OVERHEAD + len(receipt.task_id) + len(receipt.ref) + len(receipt.number) + len(receipt.status)


@dataclass(frozen=True, slots=True)
class _Held:
    receipt: Receipt
    due: float


class PendingReceipts:
    """Receipts waiting for a retry, one FIFO per retry round.

    A receipt enters round 0 and moves to round ``r + 1`` when round ``r`` finds it still unknown. The
    delays add up, so every receipt of a later round arrived before every receipt of an earlier one: the
    oldest receipt held is at the front of the last non-empty round.
    """

    def __init__(self, max_count: int, max_bytes: int, delays: tuple[float, ...] | None = None) -> None:
        self.max_count = max_count
        self.max_bytes = max_bytes
        self.delays = delays or RETRY_DELAYS
        self._rounds: list[deque[_Held]] = [deque() for _ in self.delays]
        self.count = 0
        self.bytes = 0

    def add(self, receipts: Iterable[Receipt], now: float, round_: int = 0) -> int:
        """Hold ``receipts`` for round ``round_`` (due ``delays[round_]`` from ``now``); returns how many
        receipts, oldest first, were dropped to stay within the bounds."""
        fifo, due = self._rounds[round_], now + self.delays[round_]
        for receipt in receipts:
            fifo.append(_Held(receipt, due))
            self.count += 1
            self.bytes += held_bytes(receipt)
        return self._shed()

    def _shed(self) -> int:
        dropped = 0
        while self.count and (self.count > self.max_count or self.bytes > self.max_bytes):
            oldest = next(fifo for fifo in reversed(self._rounds) if fifo).popleft()
            self._forget(oldest.receipt)
            dropped += 1
        return dropped

    def _forget(self, receipt: Receipt) -> None:
        self.count -= 1
        self.bytes -= held_bytes(receipt)

    def due(self, now: float, limit: int) -> Iterator[tuple[int, list[Receipt]]]:
        """(round, receipts due by ``now``) per round, at most ``limit`` receipts per round; they are no
        longer held (``retried`` holds the still-unknown ones again)."""
        for round_, fifo in enumerate(self._rounds):
            taken: list[Receipt] = []
            while fifo and fifo[0].due <= now and len(taken) < limit:
                taken.append(fifo.popleft().receipt)
                self._forget(taken[-1])
            if taken:
                yield round_, taken

    def retried(self, round_: int, unknown: list[Receipt], now: float) -> tuple[int, int]:
        """Hold the receipts round ``round_`` still found unknown for the next round; returns (given up:
        they had their last round, dropped to stay within the bounds)."""
        if round_ + 1 >= len(self._rounds):
            return len(unknown), 0
        return 0, self.add(unknown, now, round_ + 1)
