"""Generated recipient files: their truth is exactly what ingest counts."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from engine.ingest.demo_data import generate_recipients
from engine.ingest.numbers import VALID
from engine.ingest.recipients import load_recipients


@pytest.mark.parametrize(("suffix", "rows"), [(".csv", 50_000), (".xlsx", 3_000)])
def test_truth_matches_ingest(tmp_path: Path, suffix: str, rows: int) -> None:
    truth = generate_recipients(tmp_path / f"r{suffix}", rows, seed=11)
    assert (truth.rows, truth.duplicates, truth.invalid) == (rows, rows * 5 // 100, rows * 2 // 100)
    assert truth.imported == rows - truth.duplicates - truth.invalid
    r = load_recipients(tmp_path / f"r{suffix}", param_columns=["name", "amount"])
    assert (r.rows, r.imported, r.duplicates, r.invalid, r.accepted) == (
        truth.rows,
        truth.imported,
        truth.duplicates,
        truth.invalid,
        truth.imported,
    )
    assert_frame_equal(r.frame, truth.frame)
    assert truth.numbers.str.contains(VALID).all() and truth.numbers.n_unique() == truth.imported


def test_duplicates_use_other_spellings(tmp_path: Path) -> None:
    generate_recipients(tmp_path / "r.csv", 2_000, duplicate_share=0.2, seed=1)
    written = pl.read_csv(tmp_path / "r.csv", infer_schema=False)["mobile"]
    for prefix in ("+86 ", "0086", "86-"):
        assert written.str.starts_with(prefix).any()
    assert written.str.contains(r"^1[0-9]{2} [0-9]{4} [0-9]{4}$").any()


def test_seeded_and_shaped_by_arguments(tmp_path: Path) -> None:
    a = generate_recipients(tmp_path / "a.csv", 1_000, seed=5, params=("x",), invalid_share=0.1)
    generate_recipients(tmp_path / "b.csv", 1_000, seed=5, params=("x",), invalid_share=0.1)
    c = generate_recipients(tmp_path / "c.csv", 1_000, seed=6, params=("x",), invalid_share=0.1)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert a.frame.columns == ["mobile", "x"] and a.invalid == 100
    assert not a.numbers.equals(c.numbers)
    generate_recipients(tmp_path / "d.data", 10, fmt="xlsx")
    assert (tmp_path / "d.data").read_bytes()[:2] == b"PK"  # the format argument wins over the suffix
