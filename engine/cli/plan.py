"""``koodispatch plan``: what a campaign will do and cost, before anything is sent or frozen."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from engine.cli.app import app
from engine.cli.common import RecipientsFile, SpecFile, console, plain, queue, run, settings

if TYPE_CHECKING:
    from rich.table import Table

    from engine.plan.forecast import Forecast


@app.command()
def plan(
    spec: SpecFile,
    recipients: RecipientsFile = None,
    check_capability: Annotated[
        bool, typer.Option("--check-capability", help="ask the provider about numbers not in the cache")
    ] = False,
    json_: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    skip_preflight: Annotated[
        bool, typer.Option("--skip-preflight", help="do not check templates with the provider (offline)")
    ] = False,
) -> None:
    """Forecast a campaign: import counts, capability split, SMS segments, provider calls, cost, duration.

    Sends nothing and writes no campaign state; exits 1 when preflight finds an error submit would refuse,
    a provider that refuses the credentials or cannot be reached included.
    """
    import orjson

    from engine import api
    from engine.runtime.redis_server import redis_url_or_private

    cfg = settings()

    async def go(url: str) -> Forecast:
        async with queue(url) as redis:
            return await api.plan_campaign(
                spec,
                redis=redis,
                recipients=recipients,
                settings=cfg,
                check_capability=check_capability,
                preflight=not skip_preflight,
            )

    with redis_url_or_private(cfg.redis_address) as url:  # no REDIS_URL: an empty cache, all unknown
        result = run(lambda: go(url))
    if json_:
        typer.echo(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        render_forecast(result, cached=bool(cfg.redis_address))
    if result.errors:
        raise typer.Exit(1)


def _counts(f: Forecast) -> Table:
    """Import counts, the capability split and the numbers at a contact-frequency limit."""
    from rich.table import Table

    counts = Table(title="recipients", show_header=False)
    for name, value in [*f.counts.items(), *f.split.items()]:
        counts.add_row(name.replace("_", " "), f"{value:,}")
    if f.frequency_capped:
        about = "" if f.frequency_exact else "≈ "
        counts.add_row("at a contact-frequency limit now", f"{about}{f.frequency_capped:,}")
    return counts


def _cost_line(f: Forecast) -> str:
    """The cost, or which ``[prices]`` to set for one: unset prices are not free."""
    c = f.cost
    if c.total is None:
        names = ", ".join(f"{name} (KOODISPATCH_PRICES__{name.upper()})" for name in c.unpriced)
        return f"cost: set [prices] {names} in your config file to see it"
    return (
        f"cost: {c.total:,.2f} {c.currency} (smart {c.smart:,.2f}, SMS {c.sms:,.2f}, basic {c.basic:,.2f})"
        + ("" if c.complete else ", incomplete")
    )


def render_forecast(f: Forecast, cached: bool) -> None:
    """Tables of counts, channels and SMS texts, then cost, duration, warnings and preflight errors;
    ``cached``: the capability answers stay in a Redis the workers share (not a private one)."""
    from rich.table import Table

    console.print(_counts(f))
    channels = Table(title="provider calls")
    for column in ("channel", "numbers", "calls"):
        channels.add_column(column, justify="left" if column == "channel" else "right")
    for channel, calls in f.calls.items():
        channels.add_row(plain(channel), f"{f.messages[channel]:,}", f"{calls:,}")
    if f.checked_calls:
        kept = "now cached" if cached else "not kept: no REDIS_URL, this plan's private Redis is gone"
        channels.caption = f"this plan made {f.checked_calls:,} capability calls ({kept})"
    console.print(channels)
    if f.sms:
        texts = Table(title="SMS segments (70 characters, 67 per part; 【signature】 and link included)")
        for column in ("SMS", "template", "messages", "characters", "segments"):
            texts.add_column(column, justify="right" if column in ("messages", "segments") else "left")
        for stage, s in f.sms.items():
            chars = f"{s.min_chars}-{s.max_chars}" if s.min_chars != s.max_chars else str(s.max_chars)
            texts.add_row(plain(stage), plain(s.template_id), f"{s.messages:,}", chars, f"{s.segments:,}")
        console.print(texts)
    console.print(_cost_line(f), highlight=False, markup=False)
    slowest = f" (bound by {f.bottleneck})" if f.bottleneck else ""
    console.print(f"duration at the rate budgets: {f.eta_seconds:,.0f} s{slowest}", highlight=False)
    for warning in f.warnings:
        console.print(f"[yellow]warning:[/] {plain(warning)}", highlight=False)
    for error in f.errors:
        console.print(f"[bold red]preflight error:[/] {plain(error)}", highlight=False)
