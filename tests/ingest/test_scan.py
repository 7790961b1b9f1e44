"""The ingest scan in parts: the frozen batches are those of one whole-file first-occurrence dedup, whether
the parts wait in memory or on disk; the spill directory is gone afterwards, also when the file is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import redis.asyncio as aioredis

from engine.errors import InputError
from engine.ingest import scan, spill
from engine.ingest.demo_data import generate_recipients
from engine.ingest.numbers import normalise_expr
from engine.ingest.recipients import load_recipients
from engine.ingest.spec import ParamRule
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


@pytest.mark.parametrize(
    ("part_rows", "keep_rows"),
    [(1, 0), (37, 0), (37, 500), (37, 1_000_000), (1_000_000, 0), (1_000_000, 1_000_000)],
)
async def test_parts_freeze_the_same_batches_as_one_whole_file_dedup(
    tmp_path: Path,
    redis_client: aioredis.Redis,
    monkeypatch: pytest.MonkeyPatch,
    part_rows: int,
    keep_rows: int,
) -> None:
    path, spilled = tmp_path / "r.csv", tmp_path / "spill"
    spilled.mkdir()
    # duplicates in other spellings (+86, 0086, 86, spaced), invalid rows, two parameter columns
    truth = generate_recipients(path, 3000, duplicate_share=0.3, invalid_share=0.1, seed=7)
    suppressed = {int(n) for n in truth.numbers.gather_every(97).to_list()}
    monkeypatch.setattr(scan, "PART_ROWS", part_rows)
    monkeypatch.setattr(spill, "KEEP_ROWS", keep_rows)

    got = load_recipients(
        path, param_columns=PARAMS, suppressed={str(n) for n in suppressed}, spill_dir=spilled
    )
    expected = whole_file_dedup(path, suppressed)

    assert (got.rows, got.invalid, got.duplicates) == (truth.rows, truth.invalid, truth.duplicates)
    assert (got.imported, got.suppressed) == (truth.imported, len(suppressed))
    assert got.table.equals(expected)
    count = await write_batches(redis_client, "parts", got.chunks(), PARAMS, SIZE)  # read back from disk
    assert count == await write_batches(redis_client, "whole", [expected], PARAMS, SIZE)
    assert count == -(-got.accepted // SIZE) > 10
    assert await stored(redis_client, "parts", count) == await stored(redis_client, "whole", count)
    got.close()
    assert list(spilled.iterdir()) == []


def test_a_refused_file_leaves_no_spilled_part(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, spilled = tmp_path / "r.csv", tmp_path / "spill"
    spilled.mkdir()
    truth = generate_recipients(path, 500, seed=3)
    last = truth.frame.row(-1, named=True)
    monkeypatch.setattr(scan, "PART_ROWS", 10)
    monkeypatch.setattr(spill, "KEEP_ROWS", 0)
    rule = ParamRule(
        column="name", min_len=0, max_len=100, forbidden=frozenset(last["name"][-1]), used_by="t"
    )

    with pytest.raises(InputError, match="column 'name'"):  # found after every part was read back
        load_recipients(path, param_columns=PARAMS, param_rules=[rule], spill_dir=spilled)
    assert list(spilled.iterdir()) == []


def test_a_spill_directory_that_cannot_be_used_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, taken = tmp_path / "r.csv", tmp_path / "a-file"
    generate_recipients(path, 50, seed=3)
    taken.write_text("not a directory")
    monkeypatch.setattr(spill, "KEEP_ROWS", 0)

    with pytest.raises(
        InputError, match=rf"^{path}: cannot use the spill directory {taken} \(ingest.spill_dir\)"
    ):
        load_recipients(path, param_columns=PARAMS, spill_dir=taken)


def test_first_occurrences_across_parts_and_pieces() -> None:
    keys = [pl.Series([5, 3, 5], dtype=pl.UInt64), pl.Series([3, 9], dtype=pl.UInt64), pl.Series([9, 1])]
    arrays = [k.cast(pl.UInt64).to_numpy() for k in keys]
    first = scan._first_occurrences(arrays)
    assert [m.tolist() for m in first] == [[True, True, False], [False, True], [False, True]]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_first_occurrences_match_one_pass_over_the_whole_file(seed: int) -> None:
    """Parts of uneven size (some empty), many repeats across and within parts: the marks are exactly
    those of a single ``is_first_distinct`` over all the keys in file order."""
    rng = np.random.default_rng(seed)
    keys = rng.integers(13_000_000_000, 13_000_000_000 + 5_000, size=20_000).astype(np.uint64)
    cuts = np.sort(rng.integers(0, len(keys), size=12))
    parts = np.split(keys, cuts)
    first = scan._first_occurrences(parts)
    whole = pl.Series(keys).is_first_distinct().to_numpy()
    assert np.array_equal(np.concatenate(first), whole)
