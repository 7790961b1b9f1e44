"""Recipient ingest: read a CSV or xlsx file, normalise and validate numbers, dedup, drop opted-out numbers.

Everything here is synchronous and CPU-bound (polars releases the GIL while it works); inside the event
loop, call it through ``asyncio.to_thread``. The file is read once, in parts
(``engine/ingest/scan.py``), and de-duplicated afterwards on the numbers as uint64 keys; a large file's
rows wait on disk meanwhile (``engine/ingest/spill.py``), so memory holds 8 bytes a valid row while it is
read, then a 1-byte mask a row, and the accepted recipients are read back a part at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from engine.errors import ConfigError, InputError
from engine.ingest.csv_text import utf8
from engine.ingest.files import (
    CSV_SUFFIXES,
    ROW,
    SHEET,
    Sheet,
    check_file,
    open_source,
    polars_errors,
    read_errors,
    read_header,
    scan_csv,
)
from engine.ingest.header import header_names
from engine.ingest.numbers import normalise, normalise_expr, normalise_series
from engine.ingest.scan import KEY, RAW, Scan, breaks, first_row_of, first_rows, scan
from engine.ingest.spec import MAX_CELL_CHARS, CampaignSpec, ParamRule
from engine.ingest.spill import Parts
from engine.phones import mask
from engine.runtime.settings import IngestSettings

log = logging.getLogger(__name__)

_DEFAULTS: Final = IngestSettings()
# Spilled bytes per byte of file: a CSV's text is about what its parts take on disk; an xlsx is compressed.
_XLSX_SPREAD: Final = 8


@dataclass(frozen=True)
class InvalidRow:
    """A row whose number is not a mainland mobile; ``value`` is already masked."""

    row: int
    value: str
    sheet: str | None = None

    def __str__(self) -> str:
        return f"{_where(self.sheet, self.row)} {self.value or '(empty)'!r}"


@dataclass(frozen=True, eq=False)
class _Sent:
    """The accepted rows as masks over the scan's parts: read back a part at a time, never all at once."""

    parts: Parts
    masks: list[npt.NDArray[np.bool_]]  # per part: a first occurrence, not opted out
    columns: list[pl.Expr]  # "mobile" (uint64) and the parameter columns

    def frames(self) -> Iterator[pl.DataFrame]:
        for part, keep in zip(self.parts, self.masks, strict=True):
            yield part.filter(pl.Series(keep)).select(self.columns)


@dataclass(frozen=True, eq=False)
class Recipients:
    """The frozen recipient set and the console's counts.

    :meth:`chunks` gives ``mobile`` (the 11-digit number as uint64, as batches pack it) and each parameter
    column (strings, "" for empty cells), one row per accepted number, first occurrence kept, in file
    order, a part of the file at a time (a large file's parts are read back from disk: call :meth:`close`
    once done); ``table`` is all of it in memory (~43 bytes a number), ``frame`` the same with ``mobile``
    as text. ``rows`` counts data rows (blank lines excluded) = ``imported + invalid + duplicates``;
    ``accepted`` = ``imported - suppressed``.
    """

    sent: _Sent
    rows: int
    imported: int  # 导入号码总数(已去重): distinct valid numbers, before suppression
    invalid: int  # 无效号码数
    duplicates: int
    suppressed: int
    accepted: int  # what will be submitted
    invalid_samples: tuple[InvalidRow, ...]

    def chunks(self) -> Iterator[pl.DataFrame]:
        """The accepted recipients in file order, a part of the file at a time (see the class)."""
        return self.sent.frames()

    def close(self) -> None:
        """Delete the parts spilled to disk (dropping the object does it too); ``chunks`` is then empty."""
        self.sent.parts.close()

    @cached_property
    def table(self) -> pl.DataFrame:
        """Every accepted recipient in memory: for small files, a dry run, tests."""
        return pl.concat(list(self.chunks()))

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
        spill_dir=Path(ingest.spill_dir) if ingest.spill_dir else None,
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
    spill_dir: Path | None = None,
) -> Recipients:
    """Read, validate and deduplicate a recipient file before anything is enqueued.

    ``sheet`` (xlsx only): "all" concatenates every non-empty sheet, an int picks one (1 = first), a
    string picks one by name, None the first. Row numbers count the header row as row 1. ``spill_dir``:
    where a large file's rows wait on disk while it is read (``engine/ingest/spill.py``; None: the system
    temp dir). Raises InputError (naming file, row and column) for any file that cannot be used as a whole.
    """
    path = Path(path)
    params = list(dict.fromkeys(param_columns))
    if "mobile" in params and mobile_column != "mobile":
        raise InputError(f"{path}: parameter column 'mobile' would clash with the normalised number column")
    return _read(path, mobile_column, params, sheet, max_xlsx_mb, param_rules, suppressed, spill_dir)


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


def _read(
    path: Path,
    mobile: str,
    params: list[str],
    sheet: Sheet,
    max_xlsx_mb: float,
    rules: Sequence[ParamRule],
    suppressed: Collection[str] | None,
    spill_dir: Path | None,
) -> Recipients:
    """Scan, then check and count while the file is still open (a rule broken by a sent cell names its row
    by reading the file again); raises InputError in this order: no data rows, an oversized cell, no valid
    number, a sent cell that breaks a rule."""
    suffix = check_file(path)
    needed = list(dict.fromkeys([mobile, *params]))
    parts = Parts(path, spill_dir, path.stat().st_size * (1 if suffix in CSV_SUFFIXES else _XLSX_SPREAD))
    try:
        with read_errors(path), open_source(path, suffix, needed, sheet, max_xlsx_mb) as source:
            found = scan(path, source, mobile, params, rules, parts)
            if found.rows == 0:
                raise InputError(f"{path}: has a header but no data rows")
            origin = _Origin(path, source.sheet_names, _samples(found.invalid_rows, source.sheet_names))
            for column in [RAW, *(c for c in params if c != mobile)]:
                too_long = pl.col(column).str.len_chars() > MAX_CELL_CHARS
                origin.reject_first(found.oversized, column, too_long, _too_long)
            recipients = _summarise(found, origin, mobile, params, suppressed)
            if found.breaking or any(rule.column == mobile for rule in rules):
                _check_sent(recipients.chunks(), rules, origin, partial(first_row_of, path, source, mobile))
    except BaseException:
        parts.close()
        raise
    log.info("recipients %s: %s", path, recipients.counts)
    return recipients


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
            label = "mobile" if column == RAW else column
            where = _where(self.sheet_names[row[SHEET]], row[ROW])
            raise InputError(f"{self.path}: {where}, column {label!r}: {why(row[column] or '')}")


def _samples(invalid_rows: pl.DataFrame, sheet_names: list[str | None]) -> tuple[InvalidRow, ...]:
    return tuple(
        InvalidRow(row=r[ROW], value=mask(r[RAW] or ""), sheet=sheet_names[r[SHEET]])
        for r in invalid_rows.iter_rows(named=True)
    )


def _too_long(value: str) -> str:
    return f"cell of {len(value)} characters (limit {MAX_CELL_CHARS}; an unclosed quote?)"


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
    found: Scan, origin: _Origin, mobile: str, params: list[str], suppressed: Collection[str] | None
) -> Recipients:
    """The first occurrences, opt-outs dropped, as the table batches are packed from; the console's counts.
    Raises when no number is valid."""
    key = pl.col(KEY)
    blocked = normalise_series(pl.Series(list(suppressed or ()), dtype=pl.Utf8)).drop_nulls().cast(pl.UInt64)
    columns = [key.alias("mobile")]
    columns += [key.cast(pl.Utf8).alias(c) if c == mobile else pl.col(c) for c in params if c != "mobile"]
    first = first_rows(found)
    sent = [
        new & ~pl.Series(keys).is_in(blocked.implode()).to_numpy()
        for new, keys in zip(first, found.keys, strict=True)
    ]
    found.keys.clear()  # 8 bytes a row; the masks are 1
    imported = sum(int(new.sum()) for new in first)
    accepted = sum(int(keep.sum()) for keep in sent)
    if not imported:
        shown = "; ".join(str(s) for s in origin.samples)
        raise InputError(
            f"{origin.path}: no valid mobile number in column {mobile!r} (first bad rows: {shown})"
        )
    return Recipients(
        sent=_Sent(found.parts, sent, columns),
        rows=found.rows,
        imported=imported,
        invalid=found.invalid,
        duplicates=found.rows - found.invalid - imported,
        suppressed=imported - accepted,
        accepted=accepted,
        invalid_samples=origin.samples,
    )


def _check_sent(
    chunks: Iterator[pl.DataFrame],
    rules: Sequence[ParamRule],
    origin: _Origin,
    locate: Callable[[int], pl.DataFrame],
) -> None:
    """Raise for the first sent row (in file order) breaking the first rule any row breaks, in one pass over
    ``chunks``; ``locate`` gives a number's first SHEET and ROW."""
    hits: dict[int, pl.DataFrame] = {}
    for chunk in chunks:
        for index, rule in enumerate(rules):
            if index not in hits and (hit := chunk.filter(breaks(rule)).head(1)).height:
                hits[index] = hit
        if 0 in hits:  # the first rule is broken: nothing later can come before it
            break
    for index, hit in sorted(hits.items()):
        rule = rules[index]
        where = locate(hit["mobile"][0]).with_columns(hit.select(rule.column).to_series())
        origin.reject_first(where, rule.column, pl.lit(True), _explain(rule))
