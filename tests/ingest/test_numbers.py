"""Number normalisation: the vectorised expression and the one-value form share the rules."""

from __future__ import annotations

import polars as pl
import pytest

from engine.ingest.numbers import normalise, normalise_expr, normalise_series

N = "13800138000"

CASES = [
    # already clean, and the spellings people and systems produce
    ("13800138000", N),
    ("+86 138-0013-8000", N),
    ("+8613800138000", N),
    ("0086 13800138000", N),
    ("0086-138 0013 8000", N),
    ("8613800138000", N),
    ("86-138-0013-8000", N),
    (" 138 0013 8000 ", N),
    ("138.0013.8000", N),
    ("(138)0013-8000", N),
    ("+86（138）00138000", N),
    ("138—0013—8000", N),
    ("13800138000\t", N),
    ("13800138000\u3000", N),
    # xlsx numbers written out as text, and Excel's text guards
    ("13800138000.0", N),
    ("13800138000.000", N),
    ("1.3800138e10", N),
    ("1.3800138E+10", N),
    ("8.613800138E+12", N),
    ('="13800138000"', N),
    ("'13800138000", N),
    # full-width digits from a Chinese input method
    ("１３８００１３８０００", N),
    ("＋８６ １３８-００１３-８０００", N),
    # invalid
    ("1.38001380001E10", None),  # not an integer
    ("1.38001E+10", None),  # Excel's 6-digit display: digits may be lost, never guess
    ("13800138000.5", None),
    ("12800138000", None),  # second digit must be 3-9
    ("1380013800", None),  # 10 digits
    ("138001380000", None),  # 12 digits
    ("+1 2025550123", None),
    ("00086 13800138000", None),
    ("+0086 13800138000", None),
    ("860013800138000", None),
    ("1380013800x", None),
    ("١٣٨٠٠١٣٨٠٠٠", None),  # Arabic-Indic digits are not digits here
    ("", None),
    ("   ", None),
    ("abc", None),
    ("13800138000;13900139000", None),
    # digit strings too long to be a number: read as a float they overflow Int64 (or float itself)
    ("1" * 30, None),
    ("9" * 400, None),
]


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_normalise(raw: str, expected: str | None) -> None:
    assert normalise(raw) == expected


def test_expression_and_scalar_share_the_rules() -> None:
    raws = [raw for raw, _ in CASES]
    lazy = pl.LazyFrame({"m": raws}).select(normalise_expr("m")).collect(engine="streaming")
    assert lazy["m"].to_list() == [expected for _, expected in CASES]


def test_numeric_columns_from_xlsx() -> None:
    frame = pl.DataFrame({"f": [13800138000.0, 1.3800138e10, 12.5, None], "i": [13800138000, 1, 2, 3]})
    out = frame.select(normalise_expr("f"), normalise_expr(pl.col("i")))
    assert out["f"].to_list() == [N, N, None, None]
    assert out["i"].to_list() == [N, None, None, None]


def test_series_input_is_not_modified() -> None:
    values = pl.Series(["+86 13800138000", None, N])
    assert normalise_series(values).to_list() == [N, None, N]
    assert values.to_list() == ["+86 13800138000", None, N]
