"""Recipient ingest: read a CSV or xlsx file, normalise and validate numbers, dedup, drop opted-out numbers.

Everything here is synchronous and CPU-bound (polars releases the GIL while it works); inside the event
loop, call it through ``asyncio.to_thread``. CSV is scanned lazily and collected by polars' streaming
engine, and numbers are deduplicated as uint64 keys, so ten million rows stay well under 2 GB.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, NamedTuple

import fastexcel
import polars as pl

from engine.csv_text import first_line, locate_malformed, sniff_separator, utf8
from engine.errors import InputError
from engine.phones import mask, normalise, normalise_expr, normalise_series
from engine.settings import IngestSettings

log = logging.getLogger(__name__)

CSV_SUFFIXES: Final = frozenset({".csv", ".txt"})
XLSX_SUFFIXES: Final = frozenset({".xlsx", ".xlsm"})
MAX_CELL_CHARS: Final = 1000  # a longer cell is a broken file (e.g. an unclosed quote), never a parameter
INVALID_SAMPLES: Final = 5
_DEFAULTS: Final = IngestSettings()
_DIGIT_RUN: Final = re.compile(r"[0-9]{7,}")
_MESSAGE_MAX: Final = 200
# Columns the readers add next to the file's own.
_SHEET, _ROW, _BLANK, _KEY, _RAW = "__kd_sheet", "__kd_row", "__kd_blank", "__kd_key", "__kd_raw"
_BLOCKED, _INDEX = "__kd_blocked", "__kd_index"

Sheet = str | int | None | Literal["all"]


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
    if _check_file(path) not in CSV_SUFFIXES:
        raise InputError(f"{path}: a suppression list must be a .csv or .txt file")
    with utf8(path) as source:
        first = first_line(source)
        headerless = normalise(first.split(sniff_separator(first))[0].strip('"')) is not None
        frame = _scan_csv(path, source, has_header=not headerless)
        columns = frame.collect_schema().names()
        column = columns[0] if headerless or len(columns) == 1 else mobile_column
        _require(path, columns, [column])
        with _polars_errors(path):
            found = frame.select(normalise_expr(column).alias("m"), pl.col(column).is_not_null().alias("n"))
            numbers = found.collect(engine="streaming")
    invalid = numbers["n"].sum() - numbers["m"].count()
    if invalid:
        log.warning("suppression list %s: %d entries are not mobile numbers and were ignored", path, invalid)
    return frozenset(numbers["m"].drop_nulls().to_list())


# -- reading --------------------------------------------------------------------------------------------


def _check_file(path: Path) -> str:
    suffix = path.suffix.lower()
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if suffix not in CSV_SUFFIXES | XLSX_SUFFIXES:
        expected = ", ".join(sorted(CSV_SUFFIXES | XLSX_SUFFIXES))
        raise InputError(f"{path}: unsupported file type {suffix or '(none)'!r}; expected one of {expected}")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty")
    return suffix


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
    suffix = _check_file(path)
    with _source(path, suffix, list(dict.fromkeys([mobile, *params])), sheet, max_xlsx_mb) as source:
        table = _collect(path, source, mobile, params)
    if table.height == 0:
        raise InputError(f"{path}: has a header but no data rows")
    origin = _Origin(path, source.sheet_names, _samples(table, source.sheet_names))
    for column in [_RAW, *(c for c in params if c != mobile)]:
        origin.reject_first(table, column, pl.col(column).str.len_chars() > MAX_CELL_CHARS, _too_long)
    return _Rows(table.drop(_RAW)), origin


def _collect(path: Path, source: _Source, mobile: str, params: list[str]) -> pl.DataFrame:
    """One streaming pass: uint64 key (null = invalid), raw value of invalid rows only, parameters as text."""
    key = normalise_expr(mobile).cast(pl.UInt64)
    with _polars_errors(path, source.csv):
        return (
            source.frame.filter(~pl.col(_BLANK))
            .with_columns(key.alias(_KEY))
            .select(
                _SHEET,
                _ROW,
                _KEY,
                pl.when(pl.col(_KEY).is_null()).then(pl.col(mobile)).alias(_RAW),
                *(pl.col(c).fill_null("") for c in params if c != mobile),
            )
            .collect(engine="streaming")
        )


class _Source(NamedTuple):
    frame: pl.LazyFrame  # _SHEET, _ROW, _BLANK + the needed columns
    sheet_names: list[str | None]  # by _SHEET index; [None] for CSV
    csv: Path | None  # the UTF-8 text behind a CSV frame, to locate a malformed row


@contextmanager
def _source(
    path: Path, suffix: str, needed: list[str], sheet: Sheet, max_xlsx_mb: float
) -> Iterator[_Source]:
    """The file as one lazy frame, valid while the context lasts (a transcoded CSV lives in a temp dir)."""
    if suffix in XLSX_SUFFIXES:
        yield _Source(*_read_xlsx(path, needed, sheet, max_xlsx_mb), None)
        return
    with utf8(path) as text:
        frame = _scan_csv(path, text, has_header=True)
        _require(path, frame.collect_schema().names(), needed)
        yield _Source(_tagged(frame, 0, needed), [None], text)


def _tagged(frame: pl.LazyFrame, sheet: int, needed: list[str]) -> pl.LazyFrame:
    """Row number (header = 1), sheet index and blank-row flag, then only the needed columns."""
    return frame.with_row_index(_ROW, offset=2).select(
        pl.lit(sheet, dtype=pl.UInt16).alias(_SHEET),
        pl.col(_ROW),
        pl.all_horizontal(pl.all().exclude(_ROW).is_null()).alias(_BLANK),
        *needed,
    )


def _scan_csv(path: Path, source: Path, *, has_header: bool) -> pl.LazyFrame:
    """Every column as text, so leading zeros and long digit strings survive; header names trimmed."""
    with _polars_errors(path):
        return pl.scan_csv(
            source,
            has_header=has_header,
            separator=sniff_separator(first_line(source)),
            infer_schema=False,
            with_column_names=lambda names: [name.strip() for name in names],
        )


def _read_xlsx(
    path: Path, needed: list[str], sheet: Sheet, max_xlsx_mb: float
) -> tuple[pl.LazyFrame, list[str | None]]:
    """Chosen sheets as text (numeric cells without ``.0``, formula cells as their cached values)."""
    size_mb = path.stat().st_size / 2**20
    if size_mb > max_xlsx_mb:
        raise InputError(f"{path}: {size_mb:.1f} MB exceeds the {max_xlsx_mb:g} MB limit for xlsx files")
    try:
        sheets = pl.read_excel(
            path,
            sheet_id=0,
            engine="calamine",
            read_options={"dtypes": "string"},
            drop_empty_rows=False,
            drop_empty_cols=False,
            raise_if_empty=False,
        )
    except (fastexcel.FastExcelError, pl.exceptions.PolarsError, OSError) as exc:
        raise InputError(f"{path}: unreadable xlsx file: {_first(exc)}") from None
    chosen = _choose_sheets(path, sheets, sheet)
    frames = []
    for index, (name, frame) in enumerate(chosen):
        stripped = [c.strip() for c in frame.columns]
        if len(set(stripped)) == len(stripped):  # as CSV headers are; never at the price of a clash
            frame.columns = stripped
        _require(path, frame.columns, needed, sheet=name)
        frames.append(_tagged(frame.lazy(), index, needed))
    if not frames:
        raise InputError(f"{path}: every sheet is empty")
    return pl.concat(frames), [name for name, _ in chosen]


def _choose_sheets(
    path: Path, sheets: dict[str, pl.DataFrame], sheet: Sheet
) -> list[tuple[str, pl.DataFrame]]:
    names = list(sheets)
    if sheet == "all":
        return [(name, frame) for name, frame in sheets.items() if frame.width]
    if sheet is None:
        sheet = 1
    if isinstance(sheet, int) and 1 <= sheet <= len(names):
        sheet = names[sheet - 1]
    if sheet not in sheets:
        raise InputError(f"{path}: no sheet {sheet!r} (sheets: {', '.join(names)}; numbers start at 1)")
    if not sheets[str(sheet)].width:
        raise InputError(f"{path}: sheet {sheet!r} is empty")
    return [(str(sheet), sheets[str(sheet)])]


def _require(path: Path, found: Sequence[str], needed: Sequence[str], *, sheet: str | None = None) -> None:
    """Every needed column is in the header; a header that is really a phone number means there is none."""
    missing = [column for column in needed if column not in found]
    if not missing:
        return
    place = f"{path}: sheet {sheet!r}" if sheet else f"{path}"
    if any(normalise(name) for name in found):
        raise InputError(f"{place}: no header row (the first row holds a phone number); add one")
    columns = ", ".join(repr(c) for c in found)
    raise InputError(f"{place}: column {missing[0]!r} not found (columns: {columns})")


@contextmanager
def _polars_errors(path: Path, source: Path | None = None) -> Iterator[None]:
    """The one place polars' CSV errors become InputErrors; ``source`` (UTF-8) lets us name the bad row."""
    try:
        yield
    except pl.exceptions.NoDataError:
        raise InputError(f"{path}: no header row (the file holds only blank lines)") from None
    except pl.exceptions.PolarsError as exc:
        found = locate_malformed(source) if source else None
        raise InputError(f"{path}: malformed CSV: {found or _first(exc)}") from None


def _first(exc: BaseException) -> str:
    """A third-party message on one line, short, and with any number in it masked."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    for tail in (" You might want to try", " Consider setting", " Context:"):
        text = text.split(tail)[0]
    text = _DIGIT_RUN.sub(lambda m: mask(m.group()), text)
    return text if len(text) <= _MESSAGE_MAX else text[: _MESSAGE_MAX - 1] + "…"


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
            where = _where(self.sheet_names[row[_SHEET]], row[_ROW])
            raise InputError(f"{self.path}: {where}, column {label!r}: {why(row[column] or '')}")


def _samples(table: pl.DataFrame, sheet_names: list[str | None]) -> tuple[InvalidRow, ...]:
    bad = table.filter(pl.col(_KEY).is_null()).head(INVALID_SAMPLES)
    return tuple(
        InvalidRow(row=r[_ROW], value=mask(r[_RAW] or ""), sheet=sheet_names[r[_SHEET]])
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
        _SHEET,
        _ROW,
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
    frame = accepted.drop(_SHEET, _ROW, _BLOCKED)
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
