"""The ``koodispatch`` command line; each sub-command lives in its own module."""

from __future__ import annotations

from engine.cli import (  # noqa: F401  (register the sub-commands)
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
from engine.cli.app import app
from engine.runtime.malloc_tuning import keep_freed_memory


def main() -> None:
    """Console-script entry point."""
    keep_freed_memory()  # before any command allocates: see engine/runtime/malloc_tuning.py
    app(prog_name="koodispatch")
