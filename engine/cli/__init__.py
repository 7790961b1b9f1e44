"""The ``koodispatch`` command line; each sub-command lives in its own module."""

from __future__ import annotations

from engine.cli import simulate  # noqa: F401  (registers the sub-command)
from engine.cli.app import app


def main() -> None:
    """Console-script entry point."""
    app()
