"""The ``koodispatch`` command line; each sub-command lives in its own module."""

from __future__ import annotations

from engine.runtime.deferred_import import defer_imports

defer_imports()  # before the sub-commands import redis-py: see engine/runtime/deferred_import.py

from engine.cli import (  # noqa: E402, F401  (register the sub-commands, after the stand-ins)
    commands,
    demo,
    history,
    plan,
    receipts,
    reports,
    serve,
    service,
    shares,
    simulate,
)
from engine.cli.app import app  # noqa: E402
from engine.runtime.malloc_tuning import keep_freed_memory  # noqa: E402


def main() -> None:
    """Console-script entry point."""
    keep_freed_memory()  # before any command allocates: see engine/runtime/malloc_tuning.py
    app(prog_name="koodispatch")
