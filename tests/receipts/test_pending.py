"""The held set of not-yet-mapped receipts: bounded in count and bytes, oldest dropped first, rounds end."""

from __future__ import annotations

from engine.receipts.parse import Receipt
from engine.receipts.pending import PendingReceipts, held_bytes

DELAYS = (1.0, 2.0)


def receipt(i: int) -> Receipt:
    return Receipt("smart", f"135{i:08d}", True, "DELIVRD", task_id=f"task-{i}")


def test_the_count_bound_drops_the_oldest_first() -> None:
    held = PendingReceipts(max_count=3, max_bytes=1 << 20, delays=DELAYS)
    assert held.add([receipt(i) for i in range(5)], now=0.0) == 2
    assert held.count == 3
    assert [r.task_id for _, rs in held.due(10.0, 100) for r in rs] == ["task-2", "task-3", "task-4"]
    assert (held.count, held.bytes) == (0, 0)


def test_the_byte_bound_holds_and_a_later_round_is_older() -> None:
    held = PendingReceipts(max_count=100, max_bytes=3 * held_bytes(receipt(0)), delays=DELAYS)
    held.add([receipt(0), receipt(1)], now=0.0)
    [(round_, first)] = list(held.due(1.0, 100))
    assert held.retried(round_, first, now=1.0) == (0, 0)  # into round 1
    assert held.add([receipt(2), receipt(3)], now=1.0) == 1  # over the bytes: receipt 0, the oldest, goes
    assert held.bytes <= held.max_bytes
    due = {r.task_id for _, rs in held.due(10.0, 100) for r in rs}
    assert due == {"task-1", "task-2", "task-3"}


def test_after_the_last_round_receipts_are_given_up() -> None:
    held = PendingReceipts(max_count=10, max_bytes=1 << 20, delays=DELAYS)
    held.add([receipt(0)], now=0.0)
    assert list(held.due(0.5, 100)) == []  # not due yet
    [(r0, got)] = list(held.due(1.0, 100))
    held.retried(r0, got, now=1.0)
    [(r1, got)] = list(held.due(3.0, 100))
    assert held.retried(r1, got, now=3.0) == (1, 0) and held.count == 0
