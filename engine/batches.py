"""Frozen batches: the recipient set cut into fixed-size batches and stored compactly in Redis.

A batch hash holds ``n`` (numbers packed 8 bytes each: 40 KB per 5000) and one ``p:<column>`` field per
template-parameter column (the column's values joined by the unit separator), so the set a campaign sends
to is fixed at submission no matter what happens to the source file afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import polars as pl
import redis.asyncio as aioredis

from engine import keys
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


def _encode(frame: pl.DataFrame, columns: Sequence[str]) -> dict[str, bytes]:
    fields = {"n": pack(frame["mobile"])}
    for column in columns:
        fields[f"p:{column}"] = SEPARATOR.join(frame[column].to_list()).encode()
    return fields


def iter_batches(frame: pl.DataFrame, size: int) -> Iterator[pl.DataFrame]:
    """Cut the accepted recipients into consecutive batches of ``size`` (the last may be shorter)."""
    for offset in range(0, frame.height, size):
        yield frame.slice(offset, size)


async def write_batches(
    redis: aioredis.Redis, cid: str, frame: pl.DataFrame, columns: Sequence[str], size: int
) -> int:
    """Store every batch of ``frame``; idempotent (same input, same keys and values). Returns the count."""
    count = 0
    pipe = redis.pipeline(transaction=False)
    for count, part in enumerate(iter_batches(frame, size), start=1):
        pipe.hset(keys.batch(cid, count - 1), mapping=_encode(part, columns))
        if count % PIPELINE_BATCHES == 0:
            await pipe.execute()
    await pipe.execute()
    return count


async def load_batch(redis: aioredis.Redis, cid: str, number: int, columns: Sequence[str]) -> Batch:
    """Read a frozen batch back; KeyError if it is gone (the caller turns that into StateLost)."""
    raw: dict[bytes, bytes] = await redis.hgetall(keys.batch(cid, number))  # type: ignore[misc]
    if b"n" not in raw:
        raise KeyError(keys.batch(cid, number))
    numbers = unpack(raw[b"n"])
    params = {}
    for column in columns:
        blob = raw.get(f"p:{column}".encode(), b"").decode()
        values = blob.split(SEPARATOR) if numbers else []
        params[column] = values
    return Batch(cid, number, numbers, params)
