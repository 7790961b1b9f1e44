"""Recipient ingest: read a CSV or xlsx file, normalise and validate numbers, dedup, drop opted-out numbers.

Everything here is synchronous and CPU-bound (polars releases the GIL while it works); inside the event
loop, call it through ``asyncio.to_thread``. CSV is scanned lazily and collected by polars' streaming
engine in one pass that deduplicates numbers as uint64 keys while the rows stream by, so ten million
rows stay well under 1.5 GB.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Final

import polars as pl

from engine.errors import ConfigError, InputError
from engine.ingest.csv_text import utf8
from engine.ingest.files import (
    BLANK,
    CSV_SUFFIXES,
    ROW,
    SHEET,
    Sheet,
    Source,
    check_file,
    open_source,
    polars_errors,
    read_errors,
    read_header,
    scan_csv,
)
from engine.ingest.header import header_names
from engine.ingest.numbers import normalise, normalise_expr, normalise_series
from engine.ingest.spec import MAX_CELL_CHARS, CampaignSpec, ParamRule
from engine.phones import mask
from engine.runtime.settings import IngestSettings

log = logging.getLogger(__name__)

INVALID_SAMPLES: Final = 5
_DEFAULTS: Final = IngestSettings()
# Columns added next to the file's own (more in engine/ingest/files.py).
_KEY, _RAW, _BLOCKED = "__kd_key", "__kd_raw", "__kd_blocked"


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

    ``table`` holds ``mobile`` (the 11-digit number as uint64, as batches pack it) and each parameter column
    (strings, "" for empty cells), one row per accepted number, first occurrence kept, in file order;
    ``frame`` is the same with ``mobile`` as text. ``rows`` counts data rows (blank lines excluded) =
    ``imported + invalid + duplicates``; ``accepted`` = ``imported - suppressed``.
    """

    table: pl.DataFrame
    rows: int
    imported: int  # 导入号码总数(已去重): distinct valid numbers, before suppression
    invalid: int  # 无效号码数
    duplicates: int
    suppressed: int
    accepted: int  # what will be submitted
    invalid_samples: tuple[InvalidRow, ...]

    @cached_property
    def frame(self) -> pl.DataFrame:
        """``table`` with the numbers as text: made on first use (10M numbers take ~0.4 s to format)."""
        return self.table.with_columns(pl.col("mobile").cast(pl.Utf8))

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


def for_campaign(
    spec: CampaignSpec, ingest: IngestSettings, *, file: Path | None = None, suppressed: Collection[str] = ()
) -> Recipients:
    """Load ``spec``'s recipients with its columns and value rules; raises ConfigError, InputError.

    ``file`` overrides ``recipients.file``; ``suppressed`` (e.g. the global opt-out set) adds to the
    spec's suppression file. Synchronous and CPU-bound: in the event loop, use ``asyncio.to_thread``.
    """
    path = file or spec.recipients.file
    if path is None:
        raise ConfigError("recipients.file: no recipient file given")
    blocked = set(suppressed)
    if spec.recipients.suppression_file is not None:
        blocked |= load_suppression(spec.recipients.suppression_file)
    return load_recipients(
        path,
        mobile_column=spec.recipients.mobile_column,
        param_columns=spec.param_columns(),
        suppressed=blocked,
        max_xlsx_mb=ingest.max_xlsx_mb,
        sheet=spec.recipients.sheet,
        param_rules=spec.param_rules(),
    )


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
    read = _read(path, mobile_column, params, sheet, max_xlsx_mb, param_rules)
    return _summarise(read, mobile_column, params, suppressed, param_rules)


def load_suppression(path: Path | str, *, mobile_column: str = _DEFAULTS.mobile_column) -> frozenset[str]:
    """Opted-out numbers, normalised: one per line, or a CSV with a ``mobile_column`` column.

    Entries that are not mobile numbers cannot match a recipient; they are counted in the log, not fatal.
    """
    path = Path(path)
    if check_file(path) not in CSV_SUFFIXES:
        raise InputError(f"{path}: a suppression list must be a .csv or .txt file")
    with read_errors(path), utf8(path) as source:
        header = read_header(path, source)
        cells = [(cell or "").strip() for cell in header.cells]
        if cells and normalise(cells[0]) is not None:  # no header: a number on the first line
            frame = scan_csv(path, source, header, None)
            column = frame.collect_schema().names()[0]
        else:
            column = cells[0] if len(cells) == 1 else mobile_column
            frame = scan_csv(path, source, header, header_names(path, header.cells, [column]))
        with polars_errors(path):
            found = frame.select(normalise_expr(column).alias("m"), pl.col(column).is_not_null().alias("n"))
            numbers = found.collect(engine="streaming")
    invalid = numbers["n"].sum() - numbers["m"].count()
    if invalid:
        log.warning("suppression list %s: %d entries are not mobile numbers and were ignored", path, invalid)
    return frozenset(numbers["m"].drop_nulls().to_list())


# -- reading --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Read:
    """One pass over a file: each valid number's first row, the counts, the rows that fail it as a whole."""

    firsts: pl.DataFrame  # SHEET, ROW, key and parameters of each valid number's first row, in file order
    rows: int  # data rows, blank ones excluded
    invalid: int
    origin: _Origin
    suspect: bool  # some row with a valid number breaks a parameter rule: the sent rows need checking


def _read(
    path: Path, mobile: str, params: list[str], sheet: Sheet, max_xlsx_mb: float, rules: Sequence[ParamRule]
) -> _Read:
    """The first rows and counts; raises for a file without data rows or with an oversized cell."""
    suffix = check_file(path)
    needed = list(dict.fromkeys([mobile, *params]))
    with read_errors(path), open_source(path, suffix, needed, sheet, max_xlsx_mb) as source:
        firsts, counts, invalid_rows, oversized, breaking = _scan(path, source, mobile, params, rules)
    rows, invalid = counts.row(0)
    if rows == 0:
        raise InputError(f"{path}: has a header but no data rows")
    origin = _Origin(path, source.sheet_names, _samples(invalid_rows, source.sheet_names))
    for column in [_RAW, *(c for c in params if c != mobile)]:
        origin.reject_first(oversized, column, pl.col(column).str.len_chars() > MAX_CELL_CHARS, _too_long)
    suspect = breaking.height > 0 or any(rule.column == mobile for rule in rules)
    return _Read(firsts, rows, invalid, origin, suspect)


def _scan(
    path: Path, source: Source, mobile: str, params: list[str], rules: Sequence[ParamRule]
) -> list[pl.DataFrame]:
    """One streaming pass, five results: first rows (dedup as the rows stream by), counts, up to
    INVALID_SAMPLES invalid rows (raw value kept), the first row with an oversized cell, and the first row
    that breaks a parameter rule.

    The key is the number as uint64 (null = invalid); parameters stay text, empty cells as "". Collecting
    the five together reads the file once, and the table of all rows is never held in memory. The rules
    are checked here on every row, a superset of the rows that will be sent, on all cores as the rows
    stream by: when none breaks one, the sent rows need no second look.
    """
    key = pl.col(_KEY)
    others = [c for c in params if c != mobile]
    rows = source.frame.filter(~pl.col(BLANK)).with_columns(
        normalise_expr(mobile).cast(pl.UInt64).alias(_KEY)
    )
    raw = pl.when(key.is_null()).then(pl.col(mobile)).alias(_RAW)
    too_long = [pl.col(c).str.len_chars() > MAX_CELL_CHARS for c in [mobile, *others]]
    checked = [r for r in rules if r.column != mobile]  # a rule on the number: see _read
    # The last two queries look at the cells only, never at the number's key: one that used it normalised
    # every number once more (0.2 s of 2.3 at 10M rows). A number cell over the limit is a broken file
    # like any other cell; a rule broken on a row whose number is invalid only costs the sent rows a
    # second look (see _summarise).
    results = [
        rows.filter(key.is_not_null())
        .select(SHEET, ROW, _KEY, *(pl.col(c).fill_null("") for c in others))
        .unique(subset=_KEY, keep="first", maintain_order=True),
        rows.select(pl.len(), key.null_count()),
        rows.filter(key.is_null()).select(SHEET, ROW, raw).head(INVALID_SAMPLES),
        rows.filter(pl.any_horizontal(too_long))
        .select(SHEET, ROW, pl.col(mobile).alias(_RAW), *others)
        .head(1),
        rows.select(*(pl.col(c).fill_null("") for c in {r.column for r in checked}))
        .filter(pl.any_horizontal(False, *(_breaks(r) for r in checked)))
        .head(1),
    ]
    with polars_errors(path, source.csv):
        return pl.collect_all(results, engine="streaming")


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


def _samples(invalid_rows: pl.DataFrame, sheet_names: list[str | None]) -> tuple[InvalidRow, ...]:
    return tuple(
        InvalidRow(row=r[ROW], value=mask(r[_RAW] or ""), sheet=sheet_names[r[SHEET]])
        for r in invalid_rows.iter_rows(named=True)
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
            found = f"contains {''.join(bad)!r}, which {rule.used_by} does not allow"
        else:
            found = f"has {len(value)} characters; {rule.used_by} allows {rule.min_len}-{rule.max_len}"
        return f"{found} ({rule.why})" if rule.why else found

    return why


def _where(sheet: str | None, row: int) -> str:
    return f"sheet {sheet!r} row {row}" if sheet else f"row {row}"


def _summarise(
    read: _Read,
    mobile: str,
    params: list[str],
    suppressed: Collection[str] | None,
    rules: Sequence[ParamRule],
) -> Recipients:
    """Counts as the console shows them; raises when nothing is sendable or a sent cell breaks a rule."""
    key, origin = pl.col(_KEY), read.origin
    if not read.firsts.height:
        shown = "; ".join(str(s) for s in origin.samples)
        raise InputError(
            f"{origin.path}: no valid mobile number in column {mobile!r} (first bad rows: {shown})"
        )
    blocked = normalise_series(pl.Series(list(suppressed or ()), dtype=pl.Utf8)).drop_nulls().cast(pl.UInt64)
    firsts = read.firsts.select(
        SHEET,
        ROW,
        key.alias("mobile"),
        *(key.cast(pl.Utf8).alias(c) if c == mobile else pl.col(c) for c in params if c != "mobile"),
        key.is_in(blocked.implode()).alias(_BLOCKED),
    )
    opted_out = int(firsts[_BLOCKED].sum())
    accepted = firsts.filter(~pl.col(_BLOCKED)) if opted_out else firsts
    for rule in rules if read.suspect else ():
        origin.reject_first(accepted, rule.column, _breaks(rule), _explain(rule))
    table = accepted.drop(SHEET, ROW, _BLOCKED)
    result = Recipients(
        table=table,
        rows=read.rows,
        imported=firsts.height,
        invalid=read.invalid,
        duplicates=read.rows - read.invalid - firsts.height,
        suppressed=opted_out,
        accepted=table.height,
        invalid_samples=origin.samples,
    )
    log.info("recipients %s: %s", origin.path, result.counts)
    return result
