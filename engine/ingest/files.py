"""Opening recipient files: a CSV (any encoding, sniffed separator) or the chosen xlsx sheets, as one lazy
frame of text columns tagged with sheet, row number and a blank-row flag; polars' errors as InputErrors.

``engine/ingest/recipients.py`` validates, counts and deduplicates what this reads.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final, Literal, NamedTuple

import fastexcel
import polars as pl

from engine.errors import InputError
from engine.ingest.csv_text import header_line, locate_malformed, sniff_separator, utf8
from engine.ingest.header import header_names
from engine.phones import mask

CSV_SUFFIXES: Final = frozenset({".csv", ".txt"})
XLSX_SUFFIXES: Final = frozenset({".xlsx", ".xlsm"})
# Columns the readers add next to the file's own.
SHEET, ROW, BLANK = "__kd_sheet", "__kd_row", "__kd_blank"
_DIGIT_RUN: Final = re.compile(r"[0-9]{7,}")
_OS_ERROR: Final = re.compile(r"\(os error ([0-9]+)\)")  # how Rust code (polars, blake3) words an errno
_MESSAGE_MAX: Final = 200
_ONLY_BLANK: Final = "no header row (the file holds only blank lines)"

Sheet = str | int | None | Literal["all"]


def check_file(path: Path) -> str:
    """The lower-case suffix of a readable, non-empty CSV or xlsx file; InputError otherwise.

    The file is opened here, so a file we may not read is refused before anything reads it.
    """
    suffix = path.suffix.lower()
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:  # e.g. a directory on its way that we may not enter, a name too long
        raise _unreadable(path, exc) from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "a device, pipe or socket"
        raise InputError(f"{path}: is {kind}, not a file")
    if suffix not in CSV_SUFFIXES | XLSX_SUFFIXES:
        expected = ", ".join(sorted(CSV_SUFFIXES | XLSX_SUFFIXES))
        raise InputError(f"{path}: unsupported file type {suffix or '(none)'!r}; expected one of {expected}")
    if info.st_size == 0:
        raise InputError(f"{path}: the file is empty")
    with read_errors(path), path.open("rb"):
        return suffix


@contextmanager
def read_errors(path: Path) -> Iterator[None]:
    """An OSError while reading ``path`` (no permission, a disk error, the file gone) as an InputError: one
    line naming the file and the system's reason."""
    try:
        yield
    except OSError as exc:
        raise _unreadable(path, exc) from None


def _unreadable(path: Path, exc: OSError) -> InputError:
    """``path: cannot read the file: Permission denied``: the system's words, also when Rust code (polars,
    blake3) raised the error and gave its number only in the text."""
    found = _OS_ERROR.search(str(exc)) if exc.errno is None else None
    reason = os.strerror(int(found.group(1))) if found else exc.strerror or _first(exc)
    return InputError(f"{path}: cannot read the file: {reason}")


class Source(NamedTuple):
    """An opened recipient file (see :func:`open_source`)."""

    frame: pl.LazyFrame  # SHEET, ROW, BLANK + the needed columns
    sheet_names: list[str | None]  # by SHEET index; [None] for CSV
    csv: Path | None  # the UTF-8 text behind a CSV frame, to locate a malformed row


@contextmanager
def open_source(
    path: Path, suffix: str, needed: list[str], sheet: Sheet, max_xlsx_mb: float
) -> Iterator[Source]:
    """The file as one lazy frame, valid while the context lasts (a transcoded CSV lives in a temp dir)."""
    if suffix in XLSX_SUFFIXES:
        yield Source(*_read_xlsx(path, needed, sheet, max_xlsx_mb), None)
        return
    with utf8(path) as text:
        header = read_header(path, text)
        frame = scan_csv(path, text, header, header_names(path, header.cells, needed))
        yield Source(_tagged(frame, 0, needed), [None], text)


def _tagged(frame: pl.LazyFrame, sheet: int, needed: list[str]) -> pl.LazyFrame:
    """Row number (header = 1), sheet index and blank-row flag, then only the needed columns."""
    return frame.with_row_index(ROW, offset=2).select(
        pl.lit(sheet, dtype=pl.UInt16).alias(SHEET),
        pl.col(ROW),
        pl.all_horizontal(pl.all().exclude(ROW).is_null()).alias(BLANK),
        *needed,
    )


class CsvHeader(NamedTuple):
    """The header row of a UTF-8 CSV file, as written (see :func:`read_header`)."""

    skipped: int  # blank lines before it
    separator: str
    cells: list[str | None]


def read_header(path: Path, source: Path) -> CsvHeader:
    """The header row's cells as written, parsed by polars as the rows will be.

    Read as a row of data: as a header, polars renames a name it has seen (``mobile_duplicated_0``).
    """
    skipped, line = header_line(source)
    if not line:
        raise InputError(f"{path}: {_ONLY_BLANK}")
    separator = sniff_separator(line)
    with polars_errors(path, source):
        first = pl.read_csv(
            source,
            has_header=False,
            n_rows=1,
            skip_lines=skipped,
            separator=separator,
            infer_schema=False,
            glob=False,
        )
    return CsvHeader(skipped, separator, list(first.row(0)) if first.height else [])


def scan_csv(path: Path, source: Path, header: CsvHeader, names: list[str] | None) -> pl.LazyFrame:
    """Every column as text, so leading zeros and long digit strings survive, by ``names`` (from
    :func:`~engine.ingest.header.header_names`); None: the file has no header row.

    ``glob=False``: a file named ``r[1].csv`` is that file, not the file ``r1.csv``.
    """
    with polars_errors(path):
        return pl.scan_csv(
            source,
            has_header=names is not None,
            skip_lines=header.skipped,
            separator=header.separator,
            infer_schema=False,
            glob=False,
            with_column_names=None if names is None else lambda _: names,
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
            has_header=False,  # the header's cells as written: calamine renames a name it has seen
            read_options={"dtypes": "string"},
            drop_empty_rows=False,
            drop_empty_cols=False,
            raise_if_empty=False,
        )
    except (fastexcel.FastExcelError, pl.exceptions.PolarsError) as exc:
        raise InputError(f"{path}: unreadable xlsx file: {_first(exc)}") from None
    chosen = _choose_sheets(path, sheets, sheet)
    frames = []
    for index, (name, frame) in enumerate(chosen):
        names = header_names(path, frame.row(0), needed, sheet=name)
        rows = frame.slice(1)
        rows.columns = names
        frames.append(_tagged(rows.lazy(), index, needed))
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


@contextmanager
def polars_errors(path: Path, source: Path | None = None) -> Iterator[None]:
    """The one place polars' CSV errors become InputErrors; ``source`` (UTF-8) lets us name the bad row."""
    try:
        yield
    except pl.exceptions.NoDataError:
        raise InputError(f"{path}: {_ONLY_BLANK}") from None
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
