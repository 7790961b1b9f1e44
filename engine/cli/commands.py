"""Campaign commands: submit, status, pause, resume, cancel, rate (report commands: ``cli/reports.py``).

Each command imports the engine where it runs (see ``engine/api.py``), so none pays for another's imports.
"""

from __future__ import annotations

from typing import Annotated

import typer

from engine.cli.app import app
from engine.cli.common import (
    RecipientsFile,
    SpecFile,
    campaign_redis_url,
    connection,
    console,
    errors,
    fail,
    plain,
    queue,
    required_redis_url,
    run,
    settings,
)
from engine.runtime.ranges import RATE

CampaignId = Annotated[str, typer.Argument(help="campaign id printed by submit")]


@app.command()
def submit(
    spec: SpecFile,
    recipients: RecipientsFile = None,
    skip_preflight: Annotated[
        bool, typer.Option("--skip-preflight", help="do not check templates with the provider (offline)")
    ] = False,
) -> None:
    """Preflight and validate a campaign, freeze its recipients in Redis and queue its batches; prints the
    campaign id. A preflight error (missing or unapproved template, parameter mismatch) stops it."""
    from engine import api

    cfg = settings()
    url = required_redis_url(cfg)

    from engine.cli.view import state_line

    async def go() -> None:
        async with queue(url) as redis:
            result = await api.submit_campaign(
                spec, recipients=recipients, settings=cfg, redis=redis, preflight=not skip_preflight
            )
            state = await state_line(redis, result.cid)
        for warning in result.warnings:  # stderr: stdout is the id, for `cid=$(koodispatch submit ...)`
            errors.print(f"[yellow]warning:[/] {plain(warning)}", highlight=False)
        note = "submitted" if result.created else "already submitted (nothing changed)"
        console.print(result.cid, highlight=False, markup=False)
        console.print(f"[dim]{note}: {result.batches} batches, state {plain(state)}[/]", highlight=False)

    run(go)


@app.command()
def status(
    cid: CampaignId,
    watch_: Annotated[bool, typer.Option("--watch", help="refresh until the campaign ends")] = False,
) -> None:
    """Per-stage progress bars, send rate and ETA of a campaign."""
    from engine.cli.view import watch

    url = campaign_redis_url()

    async def go() -> None:
        async with connection(url) as redis:
            await watch(redis, cid, follow=watch_)

    run(go)


PAST = {"pause": "paused", "resume": "resumed", "cancel": "cancelled"}


def _control(cid: str, action: str) -> None:
    from engine import api

    url = campaign_redis_url()

    async def go() -> None:
        async with connection(url) as redis:
            previous = await getattr(api, action)(cid, redis=redis)
        typer.echo(f"{cid}: {previous} → {PAST[action]}")

    run(go)


@app.command()
def pause(cid: CampaignId) -> None:
    """Stop sending within seconds on every worker; resume continues where it stopped."""
    _control(cid, "pause")


@app.command()
def resume(cid: CampaignId) -> None:
    """Continue a paused campaign (re-queues its unfinished batches)."""
    _control(cid, "resume")


@app.command()
def cancel(cid: CampaignId) -> None:
    """Stop a campaign for good; the report shows what was not sent."""
    _control(cid, "cancel")


@app.command()
def rate(
    smart: Annotated[float | None, typer.Option(help=f"smart messages per second ({RATE.span})")] = None,
    sms: Annotated[float | None, typer.Option(help=f"plain SMS per second ({RATE.span})")] = None,
    basic: Annotated[
        float | None, typer.Option(help=f"basic-edition messages per second ({RATE.span})")
    ] = None,
    capability: Annotated[
        float | None, typer.Option(help=f"capability checks per second ({RATE.span})")
    ] = None,
    campaign: Annotated[
        str | None, typer.Option(help="cap this campaign's own rate instead of the shared budgets")
    ] = None,
    reset: Annotated[
        bool, typer.Option("--reset", help="with --campaign: back to the caps of its spec first")
    ] = False,
) -> None:
    """Show or change the shared rate budgets; a change applies to every worker at once.

    With --campaign, cap one campaign's own rate per channel on top of them (--reset drops its live caps).
    """
    from engine import api

    changes = {"smart": smart, "sms": sms, "basic": basic, "capability": capability}
    for channel, per_second in changes.items():  # before anything else: a bad flag changes nothing
        problem = None if per_second is None else RATE.problem(per_second)
        if problem is not None:
            fail(f"--{channel}: {problem}")
    if campaign is not None or reset:
        _campaign_rates(campaign, {k: v for k, v in changes.items() if v is not None}, reset)
        return
    cfg = settings()
    url = required_redis_url(cfg)

    async def go() -> None:
        async with connection(url) as redis:
            rates = await api.set_rates(redis, cfg, {k: v for k, v in changes.items() if v is not None})
        for channel, info in rates.items():  # plain lines, as pause prints: no rich import on this path
            shown = f"{info.rate:g}/s (effective {info.effective:g}/s, in flight {info.in_flight})"
            typer.echo(f"{channel:<11} {shown}")

    run(go)


def _campaign_rates(cid: str | None, changes: dict[str, float], reset: bool) -> None:
    from engine import api

    if cid is None:
        fail("--reset needs --campaign ID: the shared budgets have no spec to go back to")
        return
    url = campaign_redis_url()

    async def go() -> None:
        async with connection(url) as redis:
            caps = await api.set_campaign_rates(cid, changes, redis=redis, reset=reset)
        shown = ", ".join(f"{channel} {cap:g}/s" for channel, cap in sorted(caps.items())) or "none"
        typer.echo(f"{cid}: own caps {shown}")

    run(go)
