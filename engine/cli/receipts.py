"""``koodispatch receipts`` (the receipts service) and ``koodispatch callbacks register``."""

from __future__ import annotations

from typing import Annotated

import typer

from engine.cli.app import App, Group, app
from engine.cli.common import (
    console,
    fail,
    required_redis_url,
    run,
    secrets_of,
    settings,
    setup_logging,
    stop_on_signals,
)

callbacks = App(help="Receipt callback URLs at the provider.", no_args_is_help=True, cls=Group)
app.add_typer(callbacks, name="callbacks")


@app.command()
def receipts(
    port: Annotated[int, typer.Option(help="port to listen on")],
    host: Annotated[
        str, typer.Option(help="address to bind (a reverse proxy usually fronts it)")
    ] = "127.0.0.1",
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING")] = "INFO",
) -> None:
    """Receive status reports, resolve receipts and uplink replies; record outcomes and opt-outs in Redis."""
    from engine.receipts.server import serve
    from engine.runtime.gc_tuning import tune_for_service
    from engine.store.connection import open_queue

    cfg = settings()
    setup_logging(log_level, secrets=secrets_of(cfg))
    url = required_redis_url(cfg)

    async def go() -> None:
        stop = stop_on_signals()
        redis = await open_queue(url)  # rides out a Redis restart: a report is never refused for it
        try:
            async with serve(cfg, redis, host, port) as where:
                tune_for_service()
                console.print(
                    f"receipts service listening on {where}/receipts/<token>/<kind>",
                    highlight=False,
                    markup=False,
                )
                await stop.wait()
        finally:
            await redis.aclose()

    run(go, service=True)


@callbacks.command("register")
def register(
    url: Annotated[
        str | None,
        typer.Option(help="public base URL of `koodispatch receipts`; default receipts.public_url"),
    ] = None,
    single: Annotated[
        bool, typer.Option(help="one smart receipt per POST (url_type 0), not batches")
    ] = False,
    replace: Annotated[
        bool, typer.Option(help="replace receipt URLs registered before (shown when refused)")
    ] = False,
) -> None:
    """Register the smart-message and basic-edition receipt URLs with KooMessage; print the SMS ones.

    The registration is the account's: a different URL registered before is shown and kept unless
    --replace is given.
    """
    from engine.provider.http import ProviderHttp
    from engine.provider.koomessage import KooMessageClient
    from engine.receipts.register import AlreadyRegistered, register_callbacks, sms_urls

    cfg = settings()
    base = url or cfg.receipts.public_url
    if not base:
        fail("no --url given and receipts.public_url is not set")
    if cfg.receipts_token is None:
        fail("KOODISPATCH_RECEIPTS_TOKEN is not set: the callback URLs carry it")
    assert cfg.receipts_token is not None
    token = cfg.receipts_token.get_secret_value()

    async def go() -> None:
        async with ProviderHttp(cfg) as http:
            client = KooMessageClient.from_settings(http, cfg)
            try:
                done = await register_callbacks(client, base, token, single=single, replace=replace)
            except AlreadyRegistered as exc:
                fail(str(exc))
        for item in done:
            console.print(
                f"registered {item.api} url_type {item.url_type}: {item.url}", highlight=False, markup=False
            )
        for kind, where in sms_urls(base, token).items():
            console.print(f"SMS {kind} (set in the SMS application): {where}", highlight=False, markup=False)

    run(go)
