"""Synthetic recipient files with a known truth, for `koodispatch demo`, the tests and the benchmarks."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import polars as pl
import xlsxwriter

_FIRST: Final = 13_000_000_000  # smallest valid mobile
_SPAN: Final = 7_000_000_000  # 130... to 199...: every valid 11-digit number
_XLSX_SHEET_ROWS: Final = 1_048_575  # Excel's row limit minus the header
# Invalid shapes, none of which any normalisation rule can turn into a valid number.
_INVALID: Final = ("12{7}00", "1{7}", "1{7}x", "", "+1 {7}", "0{7}000")

Format = Literal["csv", "xlsx"]


@dataclass(frozen=True, eq=False)  # a DataFrame has no truth value to compare by
class Truth:
    """What a correct ingest of the generated file must report."""

    rows: int
    imported: int  # distinct valid numbers
    duplicates: int
    invalid: int
    frame: pl.DataFrame  # the expected Recipients.frame: first occurrences, in file order

    @property
    def numbers(self) -> pl.Series:
        """Distinct valid numbers in order of first occurrence."""
        return self.frame["mobile"]


def generate_recipients(
    path: Path | str,
    n: int,
    *,
    duplicate_share: float = 0.05,
    invalid_share: float = 0.02,
    seed: int = 0,
    params: Sequence[str] = ("name", "amount"),
    fmt: Format | None = None,
) -> Truth:
    """Write ``n`` rows to ``path`` (csv or xlsx, from the suffix unless ``fmt`` says) and return the truth.

    Duplicates repeat a number in another spelling (``+86…``, ``0086…``, ``86…``, spaced); in xlsx the
    plain spellings are numeric cells, as Excel stores typed-in numbers. Rows are shuffled, so a duplicate
    may come first; the truth keeps whichever row comes first, with its parameters. Vectorised: a
    million CSV rows take about half a second (xlsx is bound by xlsxwriter, ~40k rows a second).
    """
    path = Path(path)
    fmt = fmt or ("xlsx" if path.suffix.lower() == ".xlsx" else "csv")
    invalid = round(n * invalid_share)
    duplicates = min(round(n * duplicate_share), n - invalid - 1) if n - invalid > 1 else 0
    unique = n - invalid - duplicates
    rng = random.Random(seed)
    rows = _rows(rng, unique, duplicates, invalid, params)
    if fmt == "xlsx":
        _write_xlsx(path, rows.drop("canonical"))
    else:
        rows.drop("canonical").write_csv(path)
    expected = (
        rows.filter(pl.col("canonical").is_not_null() & pl.col("canonical").is_first_distinct())
        .drop("mobile")
        .rename({"canonical": "mobile"})
    )
    return Truth(rows=n, imported=unique, duplicates=duplicates, invalid=invalid, frame=expected)


def _rows(
    rng: random.Random, unique: int, duplicates: int, invalid: int, params: Sequence[str]
) -> pl.DataFrame:
    """All rows, shuffled: ``mobile`` as written, ``canonical`` its 11-digit form (null when invalid)."""
    # x -> (a*x + b) mod SPAN is a bijection when gcd(a, SPAN) = 1: distinct numbers without a set.
    a = rng.choice((1_000_003, 7_368_787, 2_750_159, 15_485_863))
    b = rng.randrange(_SPAN)
    numbers = ((pl.int_range(0, unique, dtype=pl.Int64) * a + b) % _SPAN + _FIRST).cast(pl.Utf8)
    plain = pl.select(canonical=numbers, mobile=numbers)
    picks = pl.Series(rng.choices(range(unique), k=duplicates) if unique else [], dtype=pl.UInt32)
    dups = plain[picks].select("canonical", mobile=_respell(pl.col("canonical"), pl.int_range(pl.len())))
    bad = pl.select(
        canonical=pl.lit(None, dtype=pl.Utf8),
        mobile=_invalid_spellings(pl.int_range(0, invalid, dtype=pl.Int64), rng.randrange(10**7)),
    )
    rows = pl.concat([plain, dups, bad]).sample(fraction=1.0, shuffle=True, seed=rng.randrange(2**32))
    index = pl.int_range(pl.len()).cast(pl.Utf8)
    return rows.select("mobile", "canonical", *(pl.concat_str(pl.lit(p), index).alias(p) for p in params))


def _respell(number: pl.Expr, i: pl.Expr) -> pl.Expr:
    """The same number in the spelling chosen by ``i``: +86, 0086, 86 or spaced 3-4-4."""
    spaced = pl.concat_str(
        number.str.slice(0, 3), number.str.slice(3, 4), number.str.slice(7, 4), separator=" "
    )
    kind = i % 4
    return (
        pl.when(kind == 0)
        .then(pl.concat_str(pl.lit("+86 "), number))
        .when(kind == 1)
        .then(pl.concat_str(pl.lit("0086"), number))
        .when(kind == 2)
        .then(pl.concat_str(pl.lit("86-"), number))
        .otherwise(spaced)
    )


def _invalid_spellings(i: pl.Expr, salt: int) -> pl.Expr:
    """One of the ``_INVALID`` shapes per row, ``{7}`` filled with seven digits varying by row."""
    digits = ((i * 7_919 + salt) % 10**7).cast(pl.Utf8).str.zfill(7)
    shapes = pl.lit(pl.Series(_INVALID)).gather(i % len(_INVALID))
    return shapes.str.replace("{7}", digits, literal=True)


def _write_xlsx(path: Path, rows: pl.DataFrame) -> None:
    """xlsxwriter in constant-memory mode; plain 11-digit numbers as numeric cells, sheets of 1M rows."""
    with xlsxwriter.Workbook(path, {"constant_memory": True}) as book:
        for start in range(0, max(rows.height, 1), _XLSX_SHEET_ROWS):
            sheet = book.add_worksheet()
            sheet.write_row(0, 0, rows.columns)
            for r, row in enumerate(rows.slice(start, _XLSX_SHEET_ROWS).iter_rows(), start=1):
                mobile, *rest = row
                if mobile.isdigit() and not mobile.startswith("0"):
                    sheet.write_number(r, 0, int(mobile))
                else:
                    sheet.write_string(r, 0, mobile)
                sheet.write_row(r, 1, rest)
