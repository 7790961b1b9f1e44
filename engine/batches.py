"""Frozen batches: the recipient set cut into fixed-size batches and stored compactly in Redis.

A batch hash holds ``n`` (numbers packed 8 bytes each: 40 KB per 5000) and one ``p:<column>`` field per
template-parameter column (the column's values joined by the unit separator), so the set a campaign sends
to is fixed at submission no matter what happens to the source file afterwards.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import polars as pl
import redis.asyncio as aioredis

from engine import keys
from engine.errors import StateLost
from engine.phones import pack, unpack

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
    texts = {f"p:{column}": _joined(frame[column], size) for column in columns}
    return [
        {"n": numbers[start * 8 : (start + size) * 8]} | {field: parts[k] for field, parts in texts.items()}
        for k, start in enumerate(range(0, frame.height, size))
    ]


def _joined(values: pl.Series, size: int) -> list[bytes]:
    """``values`` joined by SEPARATOR per batch of ``size``: one join over them all, then cut at the
    separator that ends each batch (its byte offset: the lengths before it plus one separator each)."""
    text = values.str.join(SEPARATOR).cast(pl.Binary).item()
    ends = (values.str.len_bytes().cast(pl.Int64) + 1).cum_sum().gather_every(size, offset=size - 1)
    bounds = [0, *ends.to_list()]
    if bounds[-1] <= len(text):  # a last, shorter batch ends at the end of the text
        bounds.append(len(text) + 1)
    return [text[start : end - 1] for start, end in itertools.pairwise(bounds)]


def iter_batches(frame: pl.DataFrame, size: int) -> Iterator[pl.DataFrame]:
    """Cut the accepted recipients into consecutive batches of ``size`` (the last may be shorter)."""
    for offset in range(0, frame.height, size):
        yield frame.slice(offset, size)


async def write_batches(
    redis: aioredis.Redis, cid: str, frame: pl.DataFrame, columns: Sequence[str], size: int
) -> int:
    """Store every batch of ``frame``; idempotent (same input, same keys and values). Returns the count.

    PIPELINE_BATCHES batches are encoded off the event loop while the previous ones are being written.
    """
    count = 0
    writing: asyncio.Future[list[object]] | None = None
    try:
        for group in iter_batches(frame, size * PIPELINE_BATCHES):
            encoded = await asyncio.to_thread(_encode, group, columns, size)
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
