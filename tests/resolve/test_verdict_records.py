"""Verdict records and a process' copy of a day of them: packing, filter, sorted runs."""

from __future__ import annotations

import numpy as np
import pytest

from engine.resolve.verdict_records import DAY, DayRecords, Filter, as_integers, records

MIDNIGHT = 20422 * DAY


def test_numbers_that_are_not_digit_strings_of_at_most_11_digits_are_refused() -> None:
    assert as_integers(["13800000001", "19999999999"]).tolist() == [13800000001, 19999999999]
    assert as_integers([]).tolist() == []
    for bad in (["+8613800000001"], ["1380000000a"], ["138 00000001"], [""], ["138000000012345"]):
        with pytest.raises(ValueError, match="digit strings"):
            as_integers(bad)


def test_a_record_keeps_number_second_and_verdict_and_a_numbers_newer_records_sort_last() -> None:
    numbers = as_integers(["13800000002", "13800000001"])
    late, early = records(numbers, "n", MIDNIGHT + DAY - 1), records(numbers, "c", MIDNIGHT)
    assert sorted([*late.tolist(), *early.tolist()]) == [early[1], late[1], early[0], late[0]]
    held = DayRecords(MIDNIGHT // DAY)
    held.add([late.tobytes(), early.tobytes()])
    newest = np.zeros(2, dtype=np.uint64)
    held.newest(np.sort(numbers), newest)
    assert newest.tolist() == [(MIDNIGHT + DAY - 1) << 8 | ord("n")] * 2


def test_the_filter_never_loses_a_number_it_was_given() -> None:
    """Numbers sharing a byte of the filter in one write all keep their bit, through every growth."""
    rng = np.random.default_rng(3)
    held = DayRecords(MIDNIGHT // DAY)
    given: list[int] = []
    for _ in range(60):  # ~180,000 numbers: the filter grows from 2^20 bits several times
        numbers = rng.integers(13000000000, 13000000000 + 400_000, size=3000, dtype=np.uint64)
        given += numbers.tolist()
        held.add([records(numbers, "c", MIDNIGHT + 60).tobytes()])
    assert len(held.filter.bits) * 8 > 1 << 20
    assert held.filter.may_hold(np.array(given, dtype=np.uint64)).all()
    absent = np.arange(14000000000, 14000100000, dtype=np.uint64)
    assert held.filter.may_hold(absent).mean() < 0.2  # mostly "no": lookups skip the binary searches


def test_a_small_filter_with_many_collisions_still_holds_every_number() -> None:
    small = Filter(bits=20)
    numbers = np.arange(13800000000, 13800000000 + 200_000, dtype=np.uint64)  # ~1.5 per byte
    small.add(numbers)
    assert small.may_hold(numbers).all()


def test_lookups_find_the_newest_record_among_runs_of_every_size() -> None:
    """Against a dict, with runs merged as they come and read in elements of several sizes at once."""
    rng = np.random.default_rng(5)
    held = DayRecords(MIDNIGHT // DAY)
    latest: dict[int, int] = {}
    for second in range(1, 400):
        elements = []
        for _ in range(int(rng.integers(1, 4))):
            numbers = rng.integers(13800000000, 13800020000, size=int(rng.integers(1, 300)), dtype=np.uint64)
            verdict = "cnx"[second % 3]
            elements.append(records(numbers, verdict, MIDNIGHT + second).tobytes())
            latest.update(dict.fromkeys(numbers.tolist(), (MIDNIGHT + second) << 8 | ord(verdict)))
        held.add(elements)
    asked = np.arange(13799999000, 13800021000, dtype=np.uint64)
    newest = np.zeros(len(asked), dtype=np.uint64)
    held.newest(asked, newest)
    assert newest.tolist() == [latest.get(n, 0) for n in asked.tolist()]
