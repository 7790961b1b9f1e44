"""The streaming pass over a recipient file, in parts: counts, the rows that fail the file as a whole, and
each valid row's number (uint64) and parameters, so that memory follows the keys kept, not the rows read.

Polars' streaming ``unique(maintain_order=True)`` held every first row plus its own hash and reordering
state (a submission peaked at 1.27 GB at 10M rows, 2.56 GB at 30M); here the valid rows' key and parameter
text (~40 bytes a row) go to a :class:`~engine.ingest.spill.Parts` store, on disk past its first rows, and
only the keys (8 bytes a row) stay in memory: the first occurrences are found from them alone
(:func:`first_rows`), and the parts are read back one at a time whenever the accepted rows are gone through.
``engine/ingest/recipients.py`` turns the result into counts and errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from engine.ingest.files import BLANK, ROW, SHEET, Source, polars_errors
from engine.ingest.numbers import normalise_expr
from engine.ingest.spec import MAX_CELL_CHARS, ParamRule
from engine.ingest.spill import Parts

INVALID_SAMPLES: Final = 5
# Rows per part: polars' streaming buffers grow with it (+0.30 GB at 100k, +0.31 at 200k, +0.5 at 1M),
# the CPU does not (a few vectorised calls a part).
PART_ROWS: Final = 100_000
# Columns added next to the file's own (more in engine/ingest/files.py).
KEY, RAW = "__kd_key", "__kd_raw"
_TOO_LONG, _BREAKS = "__kd_too_long", "__kd_breaks"
_PIECE_BITS: Final = 5  # the keys are de-duplicated in 32 pieces (_first_occurrences)
_SPREAD: Final = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / golden ratio, odd


@dataclass(frozen=True, eq=False)  # DataFrames have no truth value to compare by
class Scan:
    """What one pass found."""

    parts: Parts  # KEY + parameters other than the number ("" for empty) of valid rows
    keys: list[npt.NDArray[np.uint64]]  # each part's KEY column
    rows: int  # data rows, blank ones excluded
    invalid: int
    invalid_rows: pl.DataFrame  # SHEET, ROW, RAW of the first INVALID_SAMPLES invalid rows
    oversized: pl.DataFrame  # SHEET, ROW, RAW, parameters of the first row with an oversized cell (or none)
    breaking: bool  # some row breaks a parameter rule on a column other than the number


def breaks(rule: ParamRule) -> pl.Expr:
    """True where ``rule.column``'s (non-null) value breaks ``rule``."""
    length = pl.col(rule.column).str.len_chars()
    bad = (length < rule.min_len) | (length > rule.max_len)
    if rule.forbidden:
        bad = bad | pl.col(rule.column).str.contains_any(sorted(rule.forbidden))
    return bad


def scan(
    path: Path, source: Source, mobile: str, params: list[str], rules: Sequence[ParamRule], parts: Parts
) -> Scan:
    """Read ``source`` once, in parts of PART_ROWS rows, in file order, keeping its valid rows in ``parts``;
    raises InputError for a malformed CSV (or a spill directory that cannot take the parts).

    The number's key (null = invalid), the oversized-cell flag and the rule flag are computed by polars'
    streaming engine on all cores; each part then costs a few vectorised filters. Rules on the number
    itself are left to the caller (they apply to the normalised text of sent rows only).
    """
    key = pl.col(KEY)
    others = [c for c in params if c != mobile]
    checked = [r for r in rules if r.column != mobile]
    rows = source.frame.filter(~pl.col(BLANK)).with_columns(
        normalise_expr(mobile).cast(pl.UInt64).alias(KEY), *(pl.col(c).fill_null("") for c in others)
    )
    too_long = pl.any_horizontal(
        *((pl.col(c).str.len_chars() > MAX_CELL_CHARS).fill_null(False) for c in [mobile, *others])
    )
    stream = rows.select(
        SHEET,
        ROW,
        KEY,
        pl.when(key.is_null() | too_long).then(pl.col(mobile)).alias(RAW),
        *others,
        too_long.alias(_TOO_LONG),
        pl.any_horizontal(False, *(breaks(r) for r in checked)).alias(_BREAKS),
    )
    found = _Found(others, parts)
    with polars_errors(path, source.csv):
        for part in stream.collect_batches(chunk_size=PART_ROWS, engine="streaming"):
            found.add(part)
    return found.result()


class _Found:
    """The running results of :func:`scan`, one part at a time."""

    def __init__(self, others: list[str], parts: Parts) -> None:
        self.others = others
        self.parts = parts
        self.keys: list[npt.NDArray[np.uint64]] = []
        self.rows = self.invalid = 0
        self.samples: list[pl.DataFrame] = []
        self.sampled = 0
        self.oversized: pl.DataFrame | None = None
        self.breaking = False

    def add(self, part: pl.DataFrame) -> None:
        """Count ``part`` and keep its valid rows (none once an oversized cell has doomed the file)."""
        key = pl.col(KEY)
        self.rows += part.height
        invalid = part[KEY].null_count()
        self.invalid += invalid
        if invalid and self.sampled < INVALID_SAMPLES:
            sample = part.filter(key.is_null()).select(SHEET, ROW, RAW).head(INVALID_SAMPLES - self.sampled)
            self.samples.append(sample)
            self.sampled += sample.height
        if self.oversized is None and part[_TOO_LONG].any():
            self.oversized = part.filter(_TOO_LONG).select(SHEET, ROW, RAW, *self.others).head(1)
            self.parts.close()  # the file will be refused: its rows are no longer needed
            self.keys.clear()
        self.breaking = self.breaking or bool(part[_BREAKS].any())
        if self.oversized is None:
            valid = part.select(KEY, *self.others).filter(key.is_not_null())
            self.keys.append(valid[KEY].to_numpy())
            self.parts.add(valid)

    def result(self) -> Scan:
        empty = pl.DataFrame(
            schema={SHEET: pl.UInt16, ROW: pl.UInt32, **dict.fromkeys([RAW, *self.others], pl.Utf8)}
        )
        return Scan(
            parts=self.parts,
            keys=self.keys,
            rows=self.rows,
            invalid=self.invalid,
            invalid_rows=pl.concat(self.samples) if self.samples else empty.select(SHEET, ROW, RAW),
            oversized=self.oversized if self.oversized is not None else empty,
            breaking=self.breaking,
        )


def first_rows(found: Scan) -> list[npt.NDArray[np.bool_]]:
    """Per part, True at the rows whose number has not come earlier in the file."""
    return _first_occurrences(found.keys)


def _first_occurrences(keys: list[npt.NDArray[np.uint64]]) -> list[npt.NDArray[np.bool_]]:
    """Per part, True at each key's first position in all the parts.

    A number's rows all fall in one of 2**_PIECE_BITS pieces (the top bits of a Fibonacci hash, so any set of
    numbers splits evenly), so each piece's keys are gathered and de-duplicated alone: the keys are never
    all copied at once, and each hash set is a 32nd of one over every key (+0.03 GB at 30M rows, not +0.33).
    Each part's positions are grouped by piece once (a stable sort of one byte, so positions stay in file
    order within a piece: 4 bytes a row while it runs), not searched for each of the 32 pieces.
    """
    grouped = [_by_piece(part) for part in keys]
    first = [np.zeros(len(part), dtype=np.bool_) for part in keys]
    for piece in range(1 << _PIECE_BITS):
        at = [order[bounds[piece] : bounds[piece + 1]] for order, bounds in grouped]
        firsts = pl.Series(np.concatenate([k[a] for k, a in zip(keys, at, strict=True)]))
        found = firsts.is_first_distinct().to_numpy()
        start = 0
        for mask, where in zip(first, at, strict=True):
            mask[where[found[start : start + len(where)]]] = True
            start += len(where)
    return first


def _by_piece(part: npt.NDArray[np.uint64]) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.intp]]:
    """``part``'s positions ordered by piece, in file order within one, and where each piece's run starts
    (``bounds[p]:bounds[p + 1]``)."""
    pieces = ((part * _SPREAD) >> np.uint64(64 - _PIECE_BITS)).astype(np.uint8)
    order = np.argsort(pieces, kind="stable").astype(np.uint32)
    bounds = np.zeros((1 << _PIECE_BITS) + 1, dtype=np.intp)
    np.cumsum(np.bincount(pieces, minlength=1 << _PIECE_BITS), out=bounds[1:])
    return order, bounds


def first_row_of(path: Path, source: Source, mobile: str, number: int) -> pl.DataFrame:
    """SHEET and ROW of the first row holding ``number``: a second read, made only to name the row of a
    sent cell that breaks a rule (the parts keep no row numbers: 6 bytes a row that is nearly never used)."""
    rows = source.frame.filter(~pl.col(BLANK) & (normalise_expr(mobile).cast(pl.UInt64) == number))
    with polars_errors(path, source.csv):
        return rows.select(SHEET, ROW).head(1).collect(engine="streaming")
