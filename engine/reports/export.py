"""Export of a campaign's failed numbers (the console's 导出失败号码) to CSV or xlsx, one batch at a time.

Rows are written as each batch is read, so a million failures never sit in memory: CSV through the csv
module, xlsx through xlsxwriter's constant-memory mode (polars' ``write_excel`` would need the whole frame).
Each row carries the recipient's parameter columns (name, amount, ...) unless asked not to. The file holds
full numbers and those values: it is private to its owner and appears under its name only when complete
(``engine/reports/output.py``).
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import BinaryIO, Final, Protocol

import redis.asyncio as aioredis
import xlsxwriter

from engine.errors import ConfigError
from engine.reports.failed import EVERY, FailedNumber, FailureFilter, failed_batches
from engine.reports.output import private_file, refuse_existing
from engine.state import campaigns
from engine.state.batches import Batch

log = logging.getLogger(__name__)
COLUMNS: Final = ("mobile", "channel", "stage", "reason", "provider_code")
XLSX_MAX_ROWS: Final = 1_048_576  # per sheet, header included; further rows continue on a new sheet
Cells = Sequence[str]


def header(params: Sequence[str]) -> tuple[str, ...]:
    """The export's columns: the failure's, then the recipient's parameter columns as the file named them
    (one that shares a failure column's name is told apart)."""
    return (*COLUMNS, *(f"{c} (recipient file)" if c in COLUMNS else c for c in params))


def _cells(row: FailedNumber, batch: Batch, params: Sequence[str]) -> tuple[str, ...]:
    return (row.number, row.channel, row.stage, row.reason, row.code, *batch.row(row.index, params))


class Sink(Protocol):
    """Where exported rows go; ``close`` finishes the file."""

    def write(self, rows: Iterable[Cells]) -> None: ...

    def close(self) -> None: ...


class CsvSink:
    """UTF-8 CSV with a header row."""

    def __init__(self, handle: BinaryIO, columns: Cells) -> None:
        self._file = io.TextIOWrapper(handle, encoding="utf-8", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow(columns)

    def write(self, rows: Iterable[Cells]) -> None:
        self._writer.writerows(rows)

    def close(self) -> None:
        self._file.close()


class XlsxSink:
    """One or more sheets of at most ``XLSX_MAX_ROWS`` rows; every cell written as text, so Excel keeps
    numbers (and amounts such as 0050) as they were."""

    def __init__(self, handle: BinaryIO, columns: Cells) -> None:
        self._book = xlsxwriter.Workbook(handle, {"constant_memory": True})
        self._columns = columns
        self._sheet = self._book.add_worksheet("failed")
        self._sheets = 1
        self._next = 0
        self._header()

    def _header(self) -> None:
        self._sheet.write_row(0, 0, self._columns)
        self._next = 1

    def write(self, rows: Iterable[Cells]) -> None:
        for row in rows:
            if self._next == XLSX_MAX_ROWS:
                self._sheets += 1
                self._sheet = self._book.add_worksheet(f"failed {self._sheets}")
                self._header()
            for column, value in enumerate(row):
                self._sheet.write_string(self._next, column, value)
            self._next += 1

    def close(self) -> None:
        self._book.close()


SINKS: Final[dict[str, type[CsvSink] | type[XlsxSink]]] = {".csv": CsvSink, ".xlsx": XlsxSink}


def check_target(path: Path, force: bool = False) -> None:
    """Raise ConfigError for a file type the export cannot write, or a file it may not replace, before any
    work is done."""
    if path.suffix.lower() not in SINKS:
        raise ConfigError(f"{path.name}: the failed-number export writes .csv or .xlsx, not {path.suffix!r}")
    refuse_existing(path, force)


async def export_failed(
    redis: aioredis.Redis,
    cid: str,
    path: Path,
    wanted: FailureFilter = EVERY,
    *,
    force: bool = False,
    params: bool = True,
) -> int:
    """Write the campaign's failed numbers to ``path`` (.csv or .xlsx, mode 0600); returns the rows written.

    With ``params`` each row carries the recipient's parameter columns of the spec (name, amount, ...), so
    the file can be handed on or sent again without the recipient file. Raises ConfigError for another
    suffix or an existing ``path`` without ``force``, StateError for an unknown campaign, OSError when the
    file cannot be written. A failure leaves no partial file behind.
    """
    check_target(path, force)
    spec = (await campaigns.load(redis, cid)).spec
    columns = [c for c in spec.param_columns() if c != spec.recipients.mobile_column] if params else []
    written = 0
    with private_file(path, force=force) as handle:
        sink: Sink = await asyncio.to_thread(SINKS[path.suffix.lower()], handle, header(columns))
        try:
            async for batch, rows in failed_batches(redis, cid, columns, wanted):
                await asyncio.to_thread(sink.write, [_cells(row, batch, columns) for row in rows])
                written += len(rows)
        finally:
            await asyncio.to_thread(sink.close)
    log.info("campaign %s: %d failed numbers exported to %s", cid, written, path.name)
    return written
