"""The valid rows of a recipient file between the read and the de-duplication, one frame a part, in file
order: the first KEEP_ROWS in memory, the rest spilled to uncompressed Arrow IPC files in a private
temporary directory, so that a 30M-row file holds only its keys in memory, not ~47 bytes a row. They are
read back, one at a time, each time the accepted recipients are gone through (the batch writes).

Small files never touch the disk (the spill costs ~5 ms of CPU per 100k rows, written and read back);
uncompressed because lz4 costs three times that CPU to halve ~40 bytes a row of disk. The directory is
deleted when the store is closed or dropped, on an error or Ctrl-C, or at the latest when the interpreter
exits (``weakref.finalize``).
"""

from __future__ import annotations

import errno
import shutil
import tempfile
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import polars as pl

from engine.errors import InputError

KEEP_ROWS: Final = 2_000_000  # rows held in memory before the rest spills (~94 MB of parts)


class Parts:
    """A list of frames that spills to disk past KEEP_ROWS rows; read back in order by iterating.
    ``directory`` is where the private spill directory is made (None: the system temp dir);
    ``expected`` is a guess of the bytes the spill of ``source`` will take, for the message when the disk
    is full."""

    def __init__(self, source: Path, directory: Path | None, expected: int) -> None:
        self.source = source
        self.base = directory
        self.expected = expected
        self.rows = 0  # held in memory
        self.spilled = 0  # bytes written to disk
        self._parts: list[pl.DataFrame | Path] = []
        self._dir: Path | None = None
        self._remove: weakref.finalize[..., Parts] | None = None

    def add(self, part: pl.DataFrame) -> None:
        """Keep ``part`` after the others: in memory while there is room, else on disk."""
        if self.rows + part.height <= KEEP_ROWS:
            self.rows += part.height
            self._parts.append(part.rechunk())  # not pinning the reader's buffers, as a spilled part does not
            return
        file = self._directory() / f"part-{len(self._parts):06d}.arrow"
        try:
            part.write_ipc(file, compression="uncompressed")
        except OSError as exc:
            raise self._failed(exc) from None
        self.spilled += file.stat().st_size
        self._parts.append(file)

    def __iter__(self) -> Iterator[pl.DataFrame]:
        """Each part in order, a spilled one read back from its file (which stays until :meth:`close`)."""
        for held in self._parts:
            if isinstance(held, pl.DataFrame):
                yield held
                continue
            try:  # read through a file object: a mapped file's pages would count in RSS while it is used
                with held.open("rb") as file:
                    part = pl.read_ipc(file)
            except OSError as exc:
                raise self._failed(exc) from None
            yield part

    def close(self) -> None:
        """Forget every part and delete the spill directory, if one was made."""
        self._parts.clear()
        self.rows = 0
        if self._remove is not None:
            self._remove()
            self._remove = self._dir = None

    def _directory(self) -> Path:
        if self._dir is None:
            try:
                self._dir = Path(tempfile.mkdtemp(prefix="koodispatch-ingest-", dir=self.base))
            except OSError as exc:
                raise self._failed(exc) from None
            self._remove = weakref.finalize(self, shutil.rmtree, self._dir, ignore_errors=True)
        return self._dir

    def _failed(self, exc: OSError) -> InputError:
        """The spill directory's trouble in one line: for a full disk, the space it needs."""
        where = self.base or Path(tempfile.gettempdir())
        full = exc.errno == errno.ENOSPC or "os error 28" in str(exc)  # Rust's errors: the number in text
        if not full:
            reason = exc.strerror or str(exc)
            return InputError(
                f"{self.source}: cannot use the spill directory {where} (ingest.spill_dir): {reason}"
            )
        need = max(self.expected, self.spilled)
        return InputError(
            f"{self.source}: no space left in the spill directory {where} (ingest.spill_dir): reading the "
            f"file needs about {_size(need)} there ({_size(self.spilled)} written when the disk filled); "
            "free some space or set ingest.spill_dir to a larger disk"
        )


def _size(count: int) -> str:
    return f"{count / 1e9:.1f} GB" if count >= 1e9 else f"{count / 1e6:.0f} MB"
