"""Report commands: the campaign report with its failed-number export and HTML page, and resend-failed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from engine.cli.app import app
from engine.cli.commands import CampaignId
from engine.cli.common import (
    campaign_redis_url,
    console,
    errors,
    plain,
    queue,
    required_redis_url,
    run,
    settings,
)
from engine.errors import ConfigError

if TYPE_CHECKING:
    from engine.reports.summary import Report


@app.command()
def report(
    cid: CampaignId,
    json_: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    failed_out: Annotated[
        Path | None,
        typer.Option("--failed-out", help="export failed and undelivered numbers to a .csv or .xlsx file"),
    ] = None,
    params: Annotated[
        bool,
        typer.Option(
            "--params/--no-params",
            help="--failed-out: include the recipients' parameter columns of the spec (name, amount, ...)",
        ),
    ] = True,
    html: Annotated[Path | None, typer.Option("--html", help="write a self-contained HTML report")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="replace existing --failed-out / --html files")
    ] = False,
) -> None:
    """Import and resolution counts, the delivery funnel per channel, failures by reason."""
    import orjson

    from engine import api
    from engine.cli.view import render_report
    from engine.reports.export import check_target, export_failed
    from engine.reports.html import write_html
    from engine.reports.output import refuse_existing

    url = campaign_redis_url()
    prices = settings().prices

    async def go() -> tuple[Report, int | None]:
        if failed_out is not None:
            check_target(failed_out, force)  # a wrong suffix or an existing file fails before any work
        if html is not None:
            refuse_existing(html, force)
        async with queue(url) as redis:
            result = await api.campaign_report(cid, redis=redis, prices=prices, opt_outs=True)
            try:
                exported = (
                    None
                    if failed_out is None
                    else await export_failed(redis, cid, failed_out, force=force, params=params)
                )
                if html is not None:
                    await asyncio.to_thread(write_html, result, html, force=force)
            except OSError as exc:
                raise ConfigError(f"{exc.filename}: cannot write: {exc.strerror}") from None
        return result, exported

    result, exported = run(go)
    if json_:
        typer.echo(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        render_report(result)
    # notes go to stderr so that --json output stays one JSON document
    if exported is not None:
        errors.print(f"{exported:,} failed numbers written to {failed_out}", highlight=False, markup=False)
    if html is not None:
        errors.print(f"HTML report written to {html}", highlight=False, markup=False)


@app.command("resend-failed")
def resend_failed(
    cid: CampaignId,
    reason: Annotated[
        list[str] | None,
        typer.Option("--reason", help="only numbers failed for this reason (repeatable; 'undelivered' too)"),
    ] = None,
    channel: Annotated[str | None, typer.Option(help="only numbers failed on this channel")] = None,
    new_id: Annotated[
        str | None, typer.Option("--id", help="id of the new campaign (default derived)")
    ] = None,
    skip_preflight: Annotated[
        bool, typer.Option("--skip-preflight", help="do not check templates with the provider (offline)")
    ] = False,
) -> None:
    """Submit a new campaign, same spec, to the failed and undelivered numbers; prints the new id."""
    from engine import api

    cfg = settings()
    url = required_redis_url(cfg)

    async def go() -> None:
        async with queue(url) as redis:
            result = await api.resend_failed(
                cid,
                redis=redis,
                reasons=reason or (),
                channel=channel,
                new_id=new_id,
                settings=cfg,
                preflight=not skip_preflight,
            )
        for warning in result.warnings:  # on stderr: stdout starts with the new id
            errors.print(f"[yellow]warning:[/] {plain(warning)}", highlight=False)
        note = "submitted" if result.created else "already submitted (nothing changed)"
        console.print(result.cid, highlight=False, markup=False)
        console.print(
            f"[dim]{note}: {result.counts.get('accepted', 0):,} numbers in {result.batches} batches, "
            f"state {result.state}[/]",
            highlight=False,
        )

    run(go)
