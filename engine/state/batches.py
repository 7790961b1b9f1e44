"""Frozen batches: the recipient set cut into fixed-size batches and stored compactly in Redis.

A batch hash holds ``n`` (numbers packed 8 bytes each: 40 KB per 5000) and one ``p:<column>`` field per
template-parameter column (the column's values joined by the unit separator), so the set a campaign sends
to is fixed at submission no matter what happens to the source file afterwards.
"""

from __future__ import annotations

import asyncio
import sys
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final

import polars as pl
import redis.asyncio as aioredis

from engine.errors import StateLost
from engine.phones import mask
from engine.store import keys

_NUMBER_MIN: Final = 10_000_000_000  # packed numbers are normalised 11-digit mobiles
_NUMBER_MAX: Final = 19_999_999_999
SEPARATOR = "\x1f"  # ASCII unit separator; ingest strips control characters from cells
PIPELINE_BATCHES = 50  # batches written per round trip


@dataclass(frozen=True, slots=True)
class Batch:
    """One frozen batch: numbers in file order and their parameter columns."""

    cid: str
    number: int
    numbers: list[str]
    params: dict[str, list[str]]

    def row(self, index: int, columns: Sequence[str]) -> list[str]:
        """The values of ``columns`` for recipient ``index``, in the given order."""
        return [self.params[column][index] for column in columns]


def _encode(frame: pl.DataFrame, columns: Sequence[str], size: int) -> list[dict[str, bytes]]:
    """The hash fields of each batch of ``frame``: a few polars calls per group, none per recipient."""
    numbers = pack(frame["mobile"])
    texts = _joined(frame.select(columns), size) if columns else {}
    return [
        {"n": numbers[start * 8 : (start + size) * 8]} | {f"p:{c}": parts[k] for c, parts in texts.items()}
        for k, start in enumerate(range(0, frame.height, size))
    ]


def _joined(params: pl.DataFrame, size: int) -> dict[str, list[bytes]]:
    """Each column's values joined by SEPARATOR per batch of ``size``: the full batches as rows of a
    reshaped column (one parallel polars call), a last, shorter one on its own."""
    full = params.height // size * size
    whole = pl.all().reshape((-1, size)).arr.join(SEPARATOR).cast(pl.Binary)
    texts: dict[str, list[bytes]] = (
        params.head(full).select(whole).to_dict(as_series=False)
        if full
        else {column: [] for column in params.columns}
    )
    if full < params.height:
        rest = params.slice(full).select(pl.all().str.join(SEPARATOR).cast(pl.Binary)).row(0)
        for column, text in zip(params.columns, rest, strict=True):
            texts[column].append(text)
    return texts


def iter_batches(frames: Iterable[pl.DataFrame], size: int) -> Iterator[pl.DataFrame]:
    """Cut the accepted recipients, given in consecutive frames of any height, into consecutive batches of
    ``size`` (the last may be shorter): the batches are the same however the recipients were split."""
    held: list[pl.DataFrame] = []
    count = 0
    for frame in frames:
        offset = 0
        while offset < frame.height:
            taken = frame.slice(offset, size - count)
            held.append(taken)
            offset += taken.height
            count += taken.height
            if count == size:
                yield pl.concat(held)
                held, count = [], 0
    if count:
        yield pl.concat(held)


def _next_encoded(
    groups: Iterator[pl.DataFrame], columns: Sequence[str], size: int
) -> list[dict[str, bytes]]:
    """The next group's batch fields ([] when there is none): reading a spilled part back is done here too,
    off the event loop."""
    group = next(groups, None)
    return [] if group is None else _encode(group, columns, size)


async def write_batches(
    redis: aioredis.Redis, cid: str, frames: Iterable[pl.DataFrame], columns: Sequence[str], size: int
) -> int:
    """Store every batch of the recipients in ``frames`` (consecutive, in order); idempotent (same input,
    same keys and values). Returns the count.

    PIPELINE_BATCHES batches are encoded off the event loop while the previous ones are being written.
    """
    count = 0
    groups = iter_batches(frames, size * PIPELINE_BATCHES)
    writing: asyncio.Future[list[object]] | None = None
    try:
        while encoded := await asyncio.to_thread(_next_encoded, groups, columns, size):
            if writing is not None:
                await writing
            pipe = redis.pipeline(transaction=False)
            for number, fields in enumerate(encoded, start=count):
                pipe.hset(keys.batch(cid, number), mapping=fields)
            writing = asyncio.ensure_future(pipe.execute())
            count += len(encoded)
    finally:
        if writing is not None:  # also when encoding failed: no write is left running unobserved
            await writing
    return count


async def load_batch(redis: aioredis.Redis, cid: str, number: int, columns: Sequence[str]) -> Batch:
    """Read a frozen batch back; StateLost if it is gone (Redis lost data: never start it from zero)."""
    raw: dict[bytes, bytes] = await redis.hgetall(keys.batch(cid, number))  # type: ignore[misc]
    if b"n" not in raw:
        raise StateLost(f"campaign {cid}: batch {number} is gone from Redis")
    numbers = unpack(raw[b"n"])
    params = {}
    for column in columns:
        blob = raw.get(f"p:{column}".encode(), b"").decode()
        values = blob.split(SEPARATOR) if numbers else []
        params[column] = values
    return Batch(cid, number, numbers, params)


def pack(numbers: Sequence[str] | pl.Series) -> bytes:
    """Normalised numbers as little-endian uint64, 8 bytes each (a 5000-number batch is 40 KB).

    Raises ValueError for anything that is not an 11-digit number starting with 1.
    """
    if isinstance(numbers, pl.Series):
        values = numbers.cast(pl.UInt64, strict=False)
        if values.null_count() or not values.is_between(_NUMBER_MIN, _NUMBER_MAX).all():
            raise ValueError("pack() takes normalised 11-digit numbers only")
        # through numpy: no Python int per number (an ingest of 10M rows packs over 9M of them)
        return values.to_numpy().astype("<u8", copy=False).tobytes()
    packed = array("Q", (_checked(n) for n in numbers))
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


def unpack(data: bytes) -> list[str]:
    """The numbers :func:`pack` stored, in the same order."""
    if len(data) % 8:
        raise ValueError(f"packed numbers must be a multiple of 8 bytes, got {len(data)}")
    packed = array("Q")
    packed.frombytes(data)
    if sys.byteorder == "big":
        packed.byteswap()
    return [str(n) for n in packed]


def _checked(number: str) -> int:
    if len(number) != 11 or not number.isascii() or not number.isdigit() or number[0] != "1":
        raise ValueError(f"pack() takes normalised 11-digit numbers only, got {mask(number)}")
    return int(number)
