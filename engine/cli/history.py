"""``koodispatch list``, ``top``, ``reschedule`` and ``purge``: the campaigns an account ran, those running
now on a live board, moving one not yet started, and deleting ended ones' per-number data."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from engine.cli.app import app
from engine.cli.commands import CampaignId
from engine.cli.common import campaign_redis_url, connection, console, fail, run


def _when(value: str, option: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option}: {value!r} is not a date or time (ISO 8601, e.g. 2026-12-07T08:00+08:00)")
        raise  # unreachable


@app.command("list")
def list_(
    state: Annotated[str | None, typer.Option(help="only campaigns in this state")] = None,
    since: Annotated[
        str | None, typer.Option(help="only campaigns submitted since (ISO 8601 date or time)")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="how many, newest first")] = 50,
    json_: Annotated[bool, typer.Option("--json", help="one JSON object per campaign, per line")] = False,
) -> None:
    """The campaigns submitted to this Redis, newest first: id, name, class, state, counts, duration."""
    import orjson
    from rich.markup import escape
    from rich.table import Table

    from engine import api

    url = campaign_redis_url()
    after = _when(since, "--since") if since is not None else None

    async def go() -> None:
        async with connection(url) as redis:
            rows = await api.list_campaigns(redis=redis, state=state, since=after, limit=limit)
        if json_:
            for row in rows:
                typer.echo(orjson.dumps(row.to_dict()).decode())
            return
        table = Table("id", "name", "class", "state", "frozen", "sent", "failed", "submitted", "took")
        for row in rows:
            took = f"{row.duration:.0f} s" if row.duration is not None else ""
            submitted = datetime.fromtimestamp(row.created_at).astimezone().strftime("%Y-%m-%d %H:%M")
            state_ = row.state + (f" ({row.reason})" if row.reason else "")
            cells = (row.cid, row.name, row.priority, state_)
            table.add_row(
                *map(escape, cells), f"{row.accepted:,}", f"{row.sent:,}", f"{row.failed:,}", submitted, took
            )
        console.print(table)

    run(go)


@app.command()
def reschedule(
    cid: CampaignId,
    start_at: Annotated[str, typer.Option("--start-at", help="the new start, ISO 8601 with its time zone")],
) -> None:
    """Move a campaign that has not started yet (state scheduled) to another start time."""
    from engine import api

    url = campaign_redis_url()
    when = _when(start_at, "--start-at")

    async def go() -> None:
        async with connection(url) as redis:
            before = await api.reschedule(cid, when, redis=redis)
        typer.echo(f"{cid}: start {before or 'unset'} → {when.isoformat()}")

    run(go)


@app.command()
def top(
    cid: Annotated[list[str] | None, typer.Argument(help="campaign ids (default: every running one)")] = None,
    once: Annotated[bool, typer.Option("--once", help="print the board once and exit")] = False,
) -> None:
    """A live board of campaigns running together: progress, class and weight, rate now (last 5 s) and
    share of the smart budget. Ctrl-C leaves it; the campaigns go on."""
    from engine.cli.board import board

    url = campaign_redis_url()

    async def go() -> None:
        async with connection(url) as redis:
            await board(redis, cid or None, follow=not once)

    run(go)


@app.command()
def purge(
    cid: Annotated[str | None, typer.Argument(help="the ended campaign whose detail to delete now")] = None,
    older_than: Annotated[
        float | None, typer.Option(min=0, help="instead: every campaign that ended more than DAYS ago")
    ] = None,
) -> None:
    """Delete ended campaigns' per-number data (batches, journal, outcomes, failed numbers) now; their
    summary report stays. Without arguments: those whose retention (retention.days) is over."""
    from engine import api

    if cid is not None and older_than is not None:
        fail("give a campaign id or --older-than, not both")
    url = campaign_redis_url()

    async def go() -> None:
        async with connection(url) as redis:
            purged = await api.purge(redis, cid, older_than_days=older_than)
        for each in purged:
            console.print(f"{each}: per-number detail purged", highlight=False, markup=False)
        if not purged:
            console.print("nothing to purge", highlight=False, markup=False)

    run(go)
