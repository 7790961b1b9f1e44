"""The typer application every ``koodispatch`` sub-command registers on, with its help conventions:
``-h`` and ``--help``, ``--version``, flags without a value type, ``SPEC`` rather than ``{spec}`` in usage
lines, and one example per command (``engine/cli/examples.py``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any

import typer
from typer._click.core import Context, Parameter  # typer vendors click: its commands take these
from typer._click.formatting import HelpFormatter
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption
from typer.models import CommandFunctionType

from engine.cli.examples import EXAMPLES

HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}


def _plain_flags(params: list[Parameter]) -> list[Parameter]:
    """A flag takes no value: its help row shows no ``<bool>`` type (typer shows one for every option)."""
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""
    return params


def _usage(command: TyperCommand, ctx: Context) -> list[str]:
    """``[OPTIONS] SPEC`` as in every Unix manual, not typer's ``{spec}``."""
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if isinstance(param, TyperArgument):
            name = (param.metavar or param.name or "").upper()
            pieces.append(name if param.required else f"[{name}]")
    return pieces


def _path(ctx: Context) -> str:
    """``callbacks register`` for that sub-command: its names below the program's."""
    names = []
    while ctx.parent is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    return " ".join(reversed(names))


class Command(TyperCommand):
    """A sub-command with the conventions above; its example comes from ``EXAMPLES`` by its name."""

    def get_params(self, ctx: Context) -> list[Parameter]:
        return _plain_flags(super().get_params(ctx))

    def collect_usage_pieces(self, ctx: Context) -> list[str]:
        return _usage(self, ctx)

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        example = EXAMPLES.get(_path(ctx))
        if example and not self.epilog:
            self.epilog = f"Example: {example}"
        super().format_help(ctx, formatter)


class Group(TyperGroup):
    """The top-level command and ``callbacks``: flags shown as flags too."""

    def get_params(self, ctx: Context) -> list[Parameter]:
        return _plain_flags(super().get_params(ctx))


class App(typer.Typer):
    """A Typer whose commands are ``Command``s unless told otherwise."""

    def command(  # the same call as typer's, one default changed
        self, name: str | None = None, *, cls: type[TyperCommand] | None = None, **kw: Any
    ) -> Callable[[CommandFunctionType], CommandFunctionType]:
        return super().command(name, cls=cls or Command, **kw)


def _version(value: bool) -> None:
    if value:
        try:
            typer.echo(f"koodispatch {version('koodispatch')}")
        except PackageNotFoundError:  # run from a source tree that was never installed
            typer.echo("koodispatch (not installed: version unknown)")
        raise typer.Exit()


app = App(
    name="koodispatch",
    help="Exactly-once bulk dispatch of Huawei Cloud KooMessage smart messages.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings=HELP_OPTIONS,
    cls=Group,
)


@app.callback()
def _main(
    show_version: Annotated[
        bool, typer.Option("--version", is_eager=True, callback=_version, help="print the version and exit")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            exists=True,
            dir_okay=False,
            help="settings file (TOML, as config/default.toml) instead of KOODISPATCH_CONFIG; "
            "KOODISPATCH_* variables still win",
        ),
    ] = None,
) -> None:
    """Exactly-once bulk dispatch of Huawei Cloud KooMessage smart messages."""
    if config is not None:  # the settings and every worker process started from here read it
        os.environ["KOODISPATCH_CONFIG"] = str(config.resolve())


__all__ = ["App", "Command", "Group", "app"]
