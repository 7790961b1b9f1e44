"""Frozen batches' number packing: 8 bytes per number, refused unless normalised."""

from __future__ import annotations

import polars as pl
import pytest

from engine.state.batches import pack, unpack

N = "13800138000"


def test_pack_is_8_bytes_per_number_little_endian() -> None:
    numbers = [str(13_000_000_000 + i * 1_000_003) for i in range(5000)]
    data = pack(numbers)
    assert len(data) == 40_000
    assert data[:8] == (13_000_000_000).to_bytes(8, "little")
    assert unpack(data) == numbers
    assert pack(pl.Series(numbers)) == data


@pytest.mark.parametrize("bad", ["+8613800138000", "1380013800", "abc", "138001380000"])
def test_pack_rejects_unnormalised(bad: str) -> None:
    with pytest.raises(ValueError, match="normalised"):
        pack([N, bad])
    with pytest.raises(ValueError, match="normalised"):
        pack(pl.Series([N, bad]))


def test_unpack_rejects_truncated_data() -> None:
    with pytest.raises(ValueError, match="multiple of 8"):
        unpack(pack([N])[:7])
