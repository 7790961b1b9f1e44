"""``koodispatch priority``: a campaign's class on the shared budgets, changed live."""

from __future__ import annotations

from typing import Annotated

import typer

from engine.cli.app import app
from engine.cli.commands import CampaignId
from engine.cli.common import campaign_redis_url, connection, run
from engine.types import PRIORITIES


@app.command()
def priority(
    cid: CampaignId,
    priority: Annotated[str, typer.Argument(help=f"the new class: {', '.join(PRIORITIES)}")],
) -> None:
    """Move a campaign to another class: a higher class is served first on every channel's budget (a lower
    one keeps a minimum share); every worker applies it at its next call."""
    from engine import api

    url = campaign_redis_url()

    async def go() -> None:
        async with connection(url) as redis:
            before = await api.set_priority(cid, priority, redis=redis)
        typer.echo(f"{cid}: {before} → {priority}")

    run(go)
