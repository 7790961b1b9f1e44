"""Capability verdicts as 8-byte records, and one day of them held by a process for lookups.

A record is ``number << 25 | second of its UTC day << 8 | verdict character``: numbers (< 2^39) sort
first, and of one number's records the newest sorts last. So a day's records need no index: they are
kept as sorted runs of plain integers, merged as they come (:class:`DayRecords`), and looked up by binary
search behind a bit filter (:class:`Filter`), since in a campaign of new numbers nearly every lookup
misses. Used by ``engine/resolve/capability_cache.py``, which shares the records through Redis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.uint64]
RECORD: Final = np.dtype("<u8")  # little-endian on every machine that shares the records
DAY: Final = 86400
NUMBER_SHIFT: Final = np.uint64(25)  # below the number: 17 bits of second of the day, 8 of verdict
LOW: Final = np.uint64((1 << 25) - 1)
MAX_NUMBER: Final = 1 << 39
BITS_PER_NUMBER: Final = 8  # a filter's bits per number held, at least: ~1 false "maybe" in 8 at worst
MIN_FILTER_BITS: Final = 20  # log2 of a new filter's bits (128 KB)
FIBONACCI: Final = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio: spreads numbers over the bits
MERGE_WAY: Final = 8  # runs of about one size merged together: each record is merged log8(records) times


def as_integers(numbers: Sequence[str]) -> Array:
    """``numbers`` (digit strings) as integers, parsed in C; anything but digits, or a number of 12
    digits or more, is refused."""
    refused = ValueError("capability cache: numbers must be digit strings of at most 11 digits")
    try:
        parsed: Array = np.fromstring(" ".join(numbers), dtype=RECORD, sep=" ")
    except ValueError:
        raise refused from None
    if len(parsed) != len(numbers) or (len(parsed) and parsed.max() >= MAX_NUMBER):
        raise refused
    return parsed


def records(numbers: Array, verdict: str, now: int) -> Array:
    """The records of ``numbers``, each with ``verdict`` as of unix time ``now``."""
    return (numbers << NUMBER_SHIFT) | np.uint64((now % DAY) << 8 | ord(verdict))


class Filter:
    """Which numbers may be held: one bit per hashed number, at least BITS_PER_NUMBER bits per number."""

    def __init__(self, bits: int = MIN_FILTER_BITS) -> None:
        self.shift = np.uint64(64 - bits)  # a number's bit: the top bits of its Fibonacci hash
        self.bits = np.zeros(1 << (bits - 3), dtype=np.uint8)

    def _hashes(self, numbers: Array) -> npt.NDArray[np.intp]:
        """Each number's bit. Indexes as ``intp``: numpy's fast path (uint64 indexes are 4x slower)."""
        return ((numbers * FIBONACCI) >> self.shift).astype(np.intp)  # wraps around 2^64, as a hash should

    def add(self, numbers: Array) -> None:
        hashes = self._hashes(numbers)
        at, masks = hashes >> 3, np.left_shift(1, (hashes & 7).astype(np.uint8), dtype=np.uint8)
        # Of numbers sharing a byte, one write wins; those whose bit was lost are set again by ``.at``,
        # which sets every bit but costs 3x more per number than a plain indexed write in a big array.
        self.bits[at] |= masks
        lost = np.flatnonzero(self.bits[at] & masks == 0)
        np.bitwise_or.at(self.bits, at[lost], masks[lost])

    def fits(self, held: int) -> bool:
        return len(self.bits) * 8 >= held * BITS_PER_NUMBER

    @classmethod
    def of(cls, runs: Sequence[Array], held: int) -> Filter:
        """A filter of every number in ``runs`` with room for twice ``held`` or more (a power of two): a
        number is hashed again about once on average."""
        made = cls(max(MIN_FILTER_BITS, (2 * held * BITS_PER_NUMBER - 1).bit_length()))
        for run in runs:
            made.add(run >> NUMBER_SHIFT)
        return made

    def may_hold(self, numbers: Array) -> npt.NDArray[np.bool_]:
        hashes = self._hashes(numbers)
        found: npt.NDArray[np.bool_] = (self.bits[hashes >> 3] >> (hashes & 7)) & 1 == 1
        return found


class DayRecords:
    """One UTC day's records as read so far by this process: sorted runs and a filter of their numbers."""

    def __init__(self, day: int) -> None:
        self.day = day
        self.seen = 0  # elements of the day's Redis list read so far
        self.runs: list[Array] = []
        self.filter = Filter()

    @property
    def held(self) -> int:
        """Records held: the runs' lengths (a few dozen runs at most)."""
        return sum(map(len, self.runs))

    def add(self, elements: Sequence[bytes]) -> None:
        """Take in list elements (each a run of packed records) read after the ones seen."""
        self.seen += len(elements)
        new = np.sort(np.frombuffer(b"".join(elements), dtype=RECORD))
        if not len(new):
            return
        self.runs.append(new)
        held = self.held
        if self.filter.fits(held):
            self.filter.add(new >> NUMBER_SHIFT)
        else:
            self.filter = Filter.of(self.runs, held)
        while len(self.runs) >= MERGE_WAY and len(self.runs[-MERGE_WAY]) <= 2 * len(self.runs[-1]):
            merged = np.sort(np.concatenate(self.runs[-MERGE_WAY:]), kind="stable")  # a merge of sorted runs
            self.runs[-MERGE_WAY:] = [merged]

    def newest(self, numbers: Array, into: Array) -> None:
        """Raise ``into[i]`` to ``unix time << 8 | verdict`` of the newest record of ``numbers[i]`` held
        (``numbers`` sorted: binary searches then walk each run once)."""
        maybe = np.flatnonzero(self.filter.may_hold(numbers))
        if not len(maybe):
            return
        wanted = numbers[maybe]
        last = (wanted << NUMBER_SHIFT) | LOW  # sorts after every record of its number
        newest = into[maybe]
        midnight = np.uint64(self.day * DAY << 8)
        for run in self.runs:
            at = np.maximum(np.searchsorted(run, last, side="right") - 1, 0)
            found = run[at]
            hit = (found >> NUMBER_SHIFT) == wanted
            np.maximum(newest, np.where(hit, midnight + (found & LOW), 0), out=newest)
        into[maybe] = newest
