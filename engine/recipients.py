"""Recipient ingest: read a CSV or xlsx file, normalise and validate numbers, dedup, drop opted-out numbers.

Everything here is synchronous and CPU-bound (polars releases the GIL while it works); inside the event
loop, call it through ``asyncio.to_thread``. CSV is scanned lazily and collected by polars' streaming
engine, and numbers are deduplicated as uint64 keys, so ten million rows stay well under 2 GB.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import polars as pl

from engine.csv_text import first_line, sniff_separator, utf8
from engine.errors import InputError
from engine.phones import mask, normalise, normalise_expr, normalise_series
from engine.recipient_files import (
    BLANK,
    CSV_SUFFIXES,
    ROW,
    SHEET,
    Sheet,
    Source,
    check_file,
    open_source,
    polars_errors,
    require_columns,
    scan_csv,
)
from engine.settings import IngestSettings

log = logging.getLogger(__name__)

MAX_CELL_CHARS: Final = 1000  # a longer cell is a broken file (e.g. an unclosed quote), never a parameter
INVALID_SAMPLES: Final = 5
_DEFAULTS: Final = IngestSettings()
# Columns added next to the file's own (more in engine/recipient_files.py).
_KEY, _RAW, _BLOCKED, _INDEX = "__kd_key", "__kd_raw", "__kd_blocked", "__kd_index"


@dataclass(frozen=True)
class ParamRule:
    """What the provider accepts in one parameter column, checked on every row that will be sent."""

    column: str
    used_by: str  # the spec field that maps the column, for the error message
    min_len: int = 0
    max_len: int = MAX_CELL_CHARS
    forbidden: frozenset[str] = frozenset()


@dataclass(frozen=True)
class InvalidRow:
    """A row whose number is not a mainland mobile; ``value`` is already masked."""

    row: int
    value: str
    sheet: str | None = None

    def __str__(self) -> str:
        return f"{_where(self.sheet, self.row)} {self.value or '(empty)'!r}"


@dataclass(frozen=True, eq=False)  # a DataFrame has no truth value to compare by
class Recipients:
    """The frozen recipient set and the console's counts.

    ``frame`` holds ``mobile`` (11 digits) and each parameter column (strings, "" for empty cells), one row
    per accepted number, first occurrence kept, in file order. ``rows`` counts data rows (blank lines
    excluded) = ``imported + invalid + duplicates``; ``accepted`` = ``imported - suppressed``.
    """

    frame: pl.DataFrame
    rows: int
    imported: int  # 导入号码总数(已去重): distinct valid numbers, before suppression
    invalid: int  # 无效号码数
    duplicates: int
    suppressed: int
    accepted: int  # what will be submitted
    invalid_samples: tuple[InvalidRow, ...]

    @property
    def counts(self) -> dict[str, int]:
        """The counts alone, for progress records and reports."""
        return {
            "rows": self.rows,
            "imported": self.imported,
            "invalid": self.invalid,
            "duplicates": self.duplicates,
            "suppressed": self.suppressed,
            "accepted": self.accepted,
        }


def load_recipients(
    path: Path | str,
    *,
    mobile_column: str = _DEFAULTS.mobile_column,
    param_columns: Sequence[str] = (),
    suppressed: Collection[str] | None = None,
    max_xlsx_mb: float = _DEFAULTS.max_xlsx_mb,
    sheet: Sheet = "all",
    param_rules: Sequence[ParamRule] = (),
) -> Recipients:
    """Read, validate and deduplicate a recipient file before anything is enqueued.

    ``sheet`` (xlsx only): "all" concatenates every non-empty sheet, an int picks one (1 = first), a
    string picks one by name, None the first. Row numbers count the header row as row 1. Raises
    InputError (naming file, row and column) for any file that cannot be used as a whole.
    """
    path = Path(path)
    params = list(dict.fromkeys(param_columns))
    if "mobile" in params and mobile_column != "mobile":
        raise InputError(f"{path}: parameter column 'mobile' would clash with the normalised number column")
    rows, origin = _read(path, mobile_column, params, sheet, max_xlsx_mb)
    return _summarise(rows, origin, mobile_column, params, suppressed, param_rules)


def load_suppression(path: Path | str, *, mobile_column: str = _DEFAULTS.mobile_column) -> frozenset[str]:
    """Opted-out numbers, normalised: one per line, or a CSV with a ``mobile_column`` column.

    Entries that are not mobile numbers cannot match a recipient; they are counted in the log, not fatal.
    """
    path = Path(path)
    if check_file(path) not in CSV_SUFFIXES:
        raise InputError(f"{path}: a suppression list must be a .csv or .txt file")
    with utf8(path) as source:
        first = first_line(source)
        headerless = normalise(first.split(sniff_separator(first))[0].strip('"')) is not None
        frame = scan_csv(path, source, has_header=not headerless)
        columns = frame.collect_schema().names()
        column = columns[0] if headerless or len(columns) == 1 else mobile_column
        require_columns(path, columns, [column])
        with polars_errors(path):
            found = frame.select(normalise_expr(column).alias("m"), pl.col(column).is_not_null().alias("n"))
            numbers = found.collect(engine="streaming")
    invalid = numbers["n"].sum() - numbers["m"].count()
    if invalid:
        log.warning("suppression list %s: %d entries are not mobile numbers and were ignored", path, invalid)
    return frozenset(numbers["m"].drop_nulls().to_list())


# -- reading --------------------------------------------------------------------------------------------


class _Rows:
    """The table read from a file, handed over once: no caller's reference pins it while it is gathered."""

    def __init__(self, table: pl.DataFrame) -> None:
        self._table: pl.DataFrame | None = table

    def take(self) -> pl.DataFrame:
        table, self._table = self._table, None
        if table is None:
            raise RuntimeError("the rows were handed over already")
        return table


def _read(
    path: Path, mobile: str, params: list[str], sheet: Sheet, max_xlsx_mb: float
) -> tuple[_Rows, _Origin]:
    """The rows, checked for oversized cells; raw text of invalid numbers sampled (masked), then dropped."""
    suffix = check_file(path)
    with open_source(path, suffix, list(dict.fromkeys([mobile, *params])), sheet, max_xlsx_mb) as source:
        table = _collect(path, source, mobile, params)
    if table.height == 0:
        raise InputError(f"{path}: has a header but no data rows")
    origin = _Origin(path, source.sheet_names, _samples(table, source.sheet_names))
    for column in [_RAW, *(c for c in params if c != mobile)]:
        origin.reject_first(table, column, pl.col(column).str.len_chars() > MAX_CELL_CHARS, _too_long)
    return _Rows(table.drop(_RAW)), origin


def _collect(path: Path, source: Source, mobile: str, params: list[str]) -> pl.DataFrame:
    """One streaming pass: uint64 key (null = invalid), raw value of invalid rows only, parameters as text."""
    key = normalise_expr(mobile).cast(pl.UInt64)
    with polars_errors(path, source.csv):
        return (
            source.frame.filter(~pl.col(BLANK))
            .with_columns(key.alias(_KEY))
            .select(
                SHEET,
                ROW,
                _KEY,
                pl.when(pl.col(_KEY).is_null()).then(pl.col(mobile)).alias(_RAW),
                *(pl.col(c).fill_null("") for c in params if c != mobile),
            )
            .collect(engine="streaming")
        )


# -- counting -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Origin:
    """Where the rows came from: turns a row into "file: sheet 'x' row n, column 'c'"; the first bad rows."""

    path: Path
    sheet_names: list[str | None]
    samples: tuple[InvalidRow, ...]

    def reject_first(self, table: pl.DataFrame, column: str, bad: pl.Expr, why: Callable[[str], str]) -> None:
        """Raise an InputError for the first row where ``bad`` holds, if any."""
        hits = table.filter(bad).head(1)
        if hits.height:
            row = hits.row(0, named=True)
            label = "mobile" if column == _RAW else column
            where = _where(self.sheet_names[row[SHEET]], row[ROW])
            raise InputError(f"{self.path}: {where}, column {label!r}: {why(row[column] or '')}")


def _samples(table: pl.DataFrame, sheet_names: list[str | None]) -> tuple[InvalidRow, ...]:
    bad = table.filter(pl.col(_KEY).is_null()).head(INVALID_SAMPLES)
    return tuple(
        InvalidRow(row=r[ROW], value=mask(r[_RAW] or ""), sheet=sheet_names[r[SHEET]])
        for r in bad.iter_rows(named=True)
    )


def _too_long(value: str) -> str:
    return f"cell of {len(value)} characters (limit {MAX_CELL_CHARS}; an unclosed quote?)"


def _breaks(rule: ParamRule) -> pl.Expr:
    length = pl.col(rule.column).str.len_chars()
    bad = (length < rule.min_len) | (length > rule.max_len)
    if rule.forbidden:
        bad = bad | pl.col(rule.column).str.contains_any(sorted(rule.forbidden))
    return bad


def _explain(rule: ParamRule) -> Callable[[str], str]:
    def why(value: str) -> str:
        bad = sorted(set(value) & rule.forbidden)
        if bad:
            return f"contains {''.join(bad)!r}, which {rule.used_by} does not allow"
        return f"has {len(value)} characters; {rule.used_by} allows {rule.min_len}-{rule.max_len}"

    return why


def _where(sheet: str | None, row: int) -> str:
    return f"sheet {sheet!r} row {row}" if sheet else f"row {row}"


def _summarise(
    rows: _Rows,
    origin: _Origin,
    mobile: str,
    params: list[str],
    suppressed: Collection[str] | None,
    rules: Sequence[ParamRule],
) -> Recipients:
    """Counts as the console shows them; raises when nothing is sendable or a sent cell breaks a rule."""
    key = pl.col(_KEY)
    table = rows.take()
    height, invalid = table.height, table[_KEY].null_count()
    blocked = normalise_series(pl.Series(list(suppressed or ()), dtype=pl.Utf8)).drop_nulls().cast(pl.UInt64)
    # where each valid number first occurs, in file order: a streaming hash dedup over two narrow columns
    # is faster than is_first_distinct over the table, and costs little memory beyond the rows it picks
    first_rows = (
        table.lazy()
        .with_row_index(_INDEX)
        .select(_INDEX, _KEY)
        .filter(key.is_not_null())
        .unique(subset=_KEY, keep="first", maintain_order=True)
        .select(_INDEX)
        .collect(engine="streaming")
        .to_series()
    )
    # a column is freed once its picked rows are copied: about one table in memory at the peak, not two
    picked: dict[str, pl.Series] = {}
    for name in table.columns:
        picked[name] = table.get_column(name).gather(first_rows)
        table = table.drop(name)
    del table
    firsts = pl.DataFrame(picked).select(
        SHEET,
        ROW,
        key.cast(pl.Utf8).alias("mobile"),
        *(key.cast(pl.Utf8).alias(c) if c == mobile else pl.col(c) for c in params if c != "mobile"),
        key.is_in(blocked.implode()).alias(_BLOCKED),
    )
    if not firsts.height:
        shown = "; ".join(str(s) for s in origin.samples)
        raise InputError(
            f"{origin.path}: no valid mobile number in column {mobile!r} (first bad rows: {shown})"
        )
    opted_out = int(firsts[_BLOCKED].sum())
    accepted = firsts.filter(~pl.col(_BLOCKED)) if opted_out else firsts
    for rule in rules:
        origin.reject_first(accepted, rule.column, _breaks(rule), _explain(rule))
    frame = accepted.drop(SHEET, ROW, _BLOCKED)
    result = Recipients(
        frame=frame,
        rows=height,
        imported=firsts.height,
        invalid=invalid,
        duplicates=height - invalid - firsts.height,
        suppressed=opted_out,
        accepted=frame.height,
        invalid_samples=origin.samples,
    )
    log.info("recipients %s: %s", origin.path, result.counts)
    return result
