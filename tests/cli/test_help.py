"""``--help`` of every command: flags without a value type, ``SPEC`` in usage, ``-h``, ``--version``, a
description for every option and one example per command."""

from __future__ import annotations

import os

import pytest
from typer.main import get_command

from engine.cli import app
from engine.cli.examples import EXAMPLES
from tests.commands import koodispatch
from tests.terminal import terminal


def _commands() -> dict[str, object]:
    """Every command path (``callbacks register`` too) and its click command."""
    found: dict[str, object] = {}
    root = get_command(app)
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        subs = getattr(command, "commands", None)
        for sub_name, sub in (subs or {name: command}).items():
            found[f"{name} {sub_name}" if subs else name] = sub
    return found


COMMANDS = sorted(_commands())


def test_every_command_has_an_example_and_every_example_a_command() -> None:
    assert set(EXAMPLES) == set(COMMANDS)


@pytest.mark.parametrize("path", COMMANDS)
def test_help_on_a_terminal_shows_flags_as_flags_usage_in_capitals_and_an_example(path: str) -> None:
    with terminal(*path.split(), "-h", env=os.environ) as term:
        assert term.wait() == 0
    shown = term.text

    assert "<bool>" not in shown
    [usage] = [line for line in shown.splitlines() if "Usage:" in line]
    assert f"koodispatch {path} [OPTIONS]" in usage and "{" not in usage
    assert f"Example: {EXAMPLES[path]}" in " ".join(shown.split())
    assert max(len(segment) for segment in term.segments) <= 80
    for param in _commands()[path].params:  # type: ignore[attr-defined]
        assert param.help, f"{path}: {param.name} has no description"


async def test_version_and_short_help_from_the_real_command() -> None:
    version = await koodispatch("--version", env={})
    short = await koodispatch("-h", env={})

    assert version.code == 0 and version.out.startswith("koodispatch ")
    assert short.code == 0 and "Usage: koodispatch [OPTIONS] COMMAND" in short.out
