"""The header row of a recipient file: its names as the readers use them, checked against the columns a
campaign needs in one pass whatever the width, and shown in error messages of bounded length."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import islice
from pathlib import Path
from typing import Final

import polars as pl

from engine.errors import InputError
from engine.ingest.numbers import normalise_series
from engine.phones import mask_numbers

SHOWN: Final = 5  # names (or positions) an error message lists before "and N more"
NAME_CHARS: Final = 32  # characters of one name an error message shows
# A longer cell is no phone number, whatever separators it holds: only shorter ones are normalised.
NUMBER_CHARS: Final = 64
_REPEAT: Final = "__kd_repeat_"  # the name of a later cell whose name came before: never read


def header_names(
    path: Path, cells: Sequence[str | None], needed: Sequence[str], *, sheet: str | None = None
) -> list[str]:
    """The names to read the file by, one per header cell: trimmed, and unique (a cell whose name came
    before is renamed and never read).

    Raises InputError naming the file (and sheet) when a needed column is missing, when one is there more
    than once (the readers renamed the second, ``mobile_duplicated_0`` or ``mobile_1``, and its numbers
    were neither sent nor counted), or when the first row holds a phone number, so it is no header.
    """
    names = [(cell or "").strip() for cell in cells]
    where: dict[str, list[int]] = {}
    for index, name in enumerate(names):
        where.setdefault(name, []).append(index)
    place = f"{path}: sheet {sheet!r}" if sheet else f"{path}"
    for column in needed:
        found = where.get(column, [])
        if not found:
            if _holds_number(names):
                raise InputError(f"{place}: no header row (the first row holds a phone number); add one")
            raise InputError(f"{place}: column {_shown(column)} not found (columns: {listing(names)})")
        if len(found) > 1:
            raise InputError(
                f"{place}: column {_shown(column)} is in the header {len(found)} times (columns "
                f"{_positions(found)}); keep one, or rename the others"
            )
    return [name if where[name][0] == index else f"{_REPEAT}{index}" for index, name in enumerate(names)]


def listing(names: Sequence[str]) -> str:
    """``'a', 'b', 'c', 'd', 'e' and 39,995 more``: a few names, each cut short, numbers masked."""
    shown = ", ".join(_shown(name) for name in islice(names, SHOWN))
    return shown + (f" and {len(names) - SHOWN:,} more" if len(names) > SHOWN else "")


def _shown(name: str) -> str:
    """``name`` quoted, at most NAME_CHARS of it, any phone number in it masked (before the cut, so that no
    number is cut in two and left unmasked)."""
    masked = mask_numbers(name[: NAME_CHARS + 16])
    return repr(masked if len(masked) <= NAME_CHARS else masked[: NAME_CHARS - 1] + "…")


def _positions(indices: Sequence[int]) -> str:
    """``1 and 3``, ``1, 3 and 7``, or ``1, 3, 7, 8, 9 and 12 more``: 1-based column positions."""
    numbers = [str(i + 1) for i in indices[:SHOWN]]
    if len(indices) > SHOWN:
        return f"{', '.join(numbers)} and {len(indices) - SHOWN:,} more"
    return f"{', '.join(numbers[:-1])} and {numbers[-1]}"


def _holds_number(names: Sequence[str]) -> bool:
    """Whether any name is a phone number: the file's first row is data. One vectorised pass."""
    short = pl.Series([name for name in names if len(name) <= NUMBER_CHARS], dtype=pl.Utf8)
    return bool(normalise_series(short).is_not_null().any())
