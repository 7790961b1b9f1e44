"""CSV text: any encoding to UTF-8, the separator from the header line, and the first malformed row."""

from __future__ import annotations

import codecs
import csv
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from engine.errors import InputError

_CHUNK: Final = 1 << 22
_SAMPLE: Final = 4096  # bytes looked at for NULs (UTF-16 without its byte-order mark)
_SEPARATORS: Final = (",", "\t", ";", "|")


@contextmanager
def utf8(path: Path) -> Iterator[Path]:
    """``path`` itself when it is UTF-8 (BOM or not), else a UTF-8 copy of it in a temporary directory.

    Raises InputError when the file is none of UTF-8, GBK/GB18030 or UTF-16 text.
    """
    encoding = _detect_encoding(path)
    if encoding == "utf-8":
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="koodispatch-") as tmp:
        target = Path(tmp) / "utf8.csv"
        _transcode(path, encoding, target)
        yield target


def _detect_encoding(path: Path) -> str:
    """UTF-16 by its BOM; UTF-8 if the whole file decodes as such; else GB18030 (superset of GBK).

    Raises InputError for NUL bytes at its start (see ``_refuse_nul_bytes``).
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as stream:
        head = stream.read(_SAMPLE)
        if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            return "utf-16"
        _refuse_nul_bytes(path, head)
        stream.seek(0)
        try:
            while chunk := stream.read(_CHUNK):
                # pure ASCII is UTF-8 and ~5x cheaper to check than to decode; a multi-byte character
                # cut at the previous chunk's end is still pending in the decoder and must meet this one
                if not chunk.isascii() or decoder.getstate()[0]:
                    decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8"


def _refuse_nul_bytes(path: Path, head: bytes) -> None:
    """Raise InputError for a file whose first bytes hold NULs, which no UTF-8 or GBK text does.

    At one place of most byte pairs, they are UTF-16 without its byte-order mark: its ASCII letters have a
    NUL each, and would otherwise be read as UTF-8 and end in a "column not found" listing NULs. Elsewhere,
    the file is no text at all (an .xls or a zip renamed .csv).
    """
    even, odd = head[0::2].count(0), head[1::2].count(0)
    pairs = len(head) // 2
    if not even + odd:
        return
    for nul, other, order in ((odd, even, "little-endian"), (even, odd, "big-endian")):
        if 4 * nul >= pairs and 4 * other <= nul:
            raise InputError(
                f"{path}: UTF-16 ({order}) text without a byte-order mark; save it as UTF-8 "
                "(Excel: CSV UTF-8) or as UTF-16 with its BOM (Excel: Unicode Text)"
            )
    raise InputError(f"{path}: holds NUL bytes, so it is no CSV text (an Excel or other file renamed?)")


def _transcode(path: Path, encoding: str, target: Path) -> None:
    decoder = codecs.getincrementaldecoder(encoding)()
    done = 0
    with path.open("rb") as stream, target.open("w", encoding="utf-8", newline="") as out:
        try:
            while chunk := stream.read(_CHUNK):
                out.write(decoder.decode(chunk))
                done += len(chunk)
            out.write(decoder.decode(b"", final=True))
        except UnicodeDecodeError as exc:
            at = done + exc.start
            raise InputError(f"{path}: not UTF-8, GBK/GB18030 or UTF-16 text (byte {at})") from None


def header_line(source: Path) -> tuple[int, str]:
    """The blank lines before the header (polars skips them) and the header line of a UTF-8 file, BOM
    dropped, for sniffing; undecodable bytes are replaced."""
    with source.open(encoding="utf-8-sig", errors="replace") as stream:
        for skipped, line in enumerate(stream):
            if line.strip("\r\n"):
                return skipped, line
    return 0, ""


def sniff_separator(header: str) -> str:
    """The most frequent candidate in the header line; Excel's "Unicode text" export uses tabs."""
    best = max(_SEPARATORS, key=header.count)
    return best if header.count(best) else ","


def locate_malformed(source: Path) -> str | None:
    """The first row Python's csv module finds broken; only run once polars has failed, as it is slow."""
    with source.open(encoding="utf-8-sig", newline="") as stream:
        reader = csv.reader(stream, delimiter=sniff_separator(header_line(source)[1]), strict=True)
        width, row = 0, 0
        try:
            for row, fields in enumerate(reader, start=1):
                width = width or len(fields)
                if len(fields) > width:
                    return f"row {row} has {len(fields)} fields, the header {width}"
        except csv.Error as exc:
            return f"row {row + 1}: {exc} (an unclosed quote?)"
    return None
