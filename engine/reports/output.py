"""Report files (the failed-number export, the HTML page), written so nobody else can read or redirect them.

An export holds full numbers. It is written to a new file that only its owner may read (0600), created with
``O_CREAT | O_EXCL | O_NOFOLLOW`` under a random name in the target's directory, so a symlink planted at a
predictable name (``.failed.csv.part`` → someone's file) is never written through. The finished file then
takes the target's name by a hard link, which fails when that name exists (a symlink included), or — when
the caller allows it with ``force`` — by a rename, which replaces the name itself, never a link's target.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from engine.errors import ConfigError


def refuse_existing(path: Path, force: bool) -> None:
    """Raise ConfigError when ``path`` exists (even as a dangling symlink) and may not be replaced."""
    if not force and os.path.lexists(path):
        raise ConfigError(f"{path}: already exists, not overwritten (--force replaces it)")


@contextlib.contextmanager
def private_file(path: Path, *, force: bool = False) -> Iterator[BinaryIO]:
    """Yield a new 0600 file that becomes ``path`` when the block ends without an error.

    On an error nothing is left behind and ``path`` is untouched. Raises ConfigError when ``path`` exists
    and ``force`` is false (checked first and again, atomically, at the end), OSError when the directory
    cannot be written.
    """
    refuse_existing(path, force)
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError as exc:  # name the file asked for, not the random one
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        _publish(name, path, force)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


def _publish(name: str, path: Path, force: bool) -> None:
    if force:
        os.replace(name, path)
        return
    try:
        os.link(name, path, follow_symlinks=False)
    except FileExistsError:
        raise ConfigError(
            f"{path}: appeared while it was written, not overwritten (--force replaces it)"
        ) from None
