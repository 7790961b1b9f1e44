"""The ingest scan in parts: the frozen batches are those of one whole-file first-occurrence dedup."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import redis.asyncio as aioredis

from engine.ingest import scan
from engine.ingest.demo_data import generate_recipients
from engine.ingest.numbers import normalise_expr
from engine.ingest.recipients import load_recipients
from engine.state.batches import write_batches
from engine.store import keys

PARAMS = ["name", "amount"]
SIZE = 50  # numbers per batch: many batches, most of them across parts


def whole_file_dedup(path: Path, suppressed: set[int]) -> pl.DataFrame:
    """The algorithm before parts: polars' ``unique(keep="first", maintain_order=True)`` over the file."""
    key = normalise_expr("mobile").cast(pl.UInt64).alias("mobile")
    return (
        pl.read_csv(path, infer_schema=False)
        .select(key, *(pl.col(c).fill_null("") for c in PARAMS))
        .drop_nulls("mobile")
        .unique(subset="mobile", keep="first", maintain_order=True)
        .filter(~pl.col("mobile").is_in(list(suppressed)))
    )


async def stored(redis: aioredis.Redis, cid: str, count: int) -> list[dict[bytes, bytes]]:
    return [await redis.hgetall(keys.batch(cid, n)) for n in range(count)]  # type: ignore[misc]


@pytest.mark.parametrize("part_rows", [1, 37, 1_000_000])
async def test_parts_freeze_the_same_batches_as_one_whole_file_dedup(
    tmp_path: Path, redis_client: aioredis.Redis, monkeypatch: pytest.MonkeyPatch, part_rows: int
) -> None:
    path = tmp_path / "r.csv"
    # duplicates in other spellings (+86, 0086, 86, spaced), invalid rows, two parameter columns
    truth = generate_recipients(path, 3000, duplicate_share=0.3, invalid_share=0.1, seed=7)
    suppressed = {int(n) for n in truth.numbers.gather_every(97).to_list()}
    monkeypatch.setattr(scan, "PART_ROWS", part_rows)

    got = load_recipients(path, param_columns=PARAMS, suppressed={str(n) for n in suppressed})
    expected = whole_file_dedup(path, suppressed)

    assert (got.rows, got.invalid, got.duplicates) == (truth.rows, truth.invalid, truth.duplicates)
    assert (got.imported, got.suppressed) == (truth.imported, len(suppressed))
    assert got.table.equals(expected)
    count = await write_batches(redis_client, "parts", got.table, PARAMS, SIZE)
    assert count == await write_batches(redis_client, "whole", expected, PARAMS, SIZE)
    assert count == -(-got.accepted // SIZE) > 10
    assert await stored(redis_client, "parts", count) == await stored(redis_client, "whole", count)


def test_first_occurrences_across_parts_and_pieces() -> None:
    keys = [pl.Series([5, 3, 5], dtype=pl.UInt64), pl.Series([3, 9], dtype=pl.UInt64), pl.Series([9, 1])]
    arrays = [k.cast(pl.UInt64).to_numpy() for k in keys]
    first = scan._first_occurrences(arrays)
    assert [m.tolist() for m in first] == [[True, True, False], [False, True], [False, True]]
