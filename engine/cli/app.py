"""The typer application every ``koodispatch`` sub-command registers on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="koodispatch",
    help="Exactly-once bulk dispatch of Huawei Cloud KooMessage smart messages.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
