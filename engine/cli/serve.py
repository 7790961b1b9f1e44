"""``koodispatch serve`` (the HTTP API) and ``koodispatch tokens`` (its bearer tokens)."""

from __future__ import annotations

from typing import Annotated

import typer

from engine.cli.app import App, Group, app
from engine.cli.common import (
    connection,
    console,
    fail,
    queue,
    required_redis_url,
    run,
    secrets_of,
    settings,
    setup_logging,
    stop_on_signals,
)

tokens = App(help="Bearer tokens of the HTTP API (koodispatch serve).", no_args_is_help=True, cls=Group)
app.add_typer(tokens, name="tokens")


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="port to listen on")] = 8080,
    host: Annotated[
        str, typer.Option(help="address to bind (a reverse proxy usually fronts it)")
    ] = "127.0.0.1",
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING")] = "INFO",
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(help="a reverse proxy's address whose X-Forwarded-For names the client (repeatable)"),
    ] = None,
) -> None:
    """Serve the JSON API under /api/v1 (OpenAPI document at /api/v1/openapi.json) and the web console
    at /console/ (log in with a token of `koodispatch tokens create`)."""
    from engine.runtime.gc_tuning import tune_for_service
    from engine.service.app import serve as serving

    cfg = settings()
    setup_logging(log_level, secrets=secrets_of(cfg))
    url = required_redis_url(cfg)

    async def go() -> None:
        stop = stop_on_signals()
        async with (
            queue(url) as redis,
            serving(cfg, redis, host, port, proxies=frozenset(trusted_proxy or ())) as where,
        ):
            tune_for_service()
            console.print(f"API listening on {where}/api/v1, web console at {where}/console/",
                          highlight=False, markup=False)  # fmt: skip
            await stop.wait()

    run(go, service=True)


@tokens.command("create")
def create(
    name: Annotated[str, typer.Argument(help="who or what uses the token")],
    role: Annotated[str, typer.Option(help="viewer, operator or admin")] = "viewer",
) -> None:
    """Create a token and print it once (only its hash is kept)."""
    from engine.service.tokens import TokenStore

    async def go() -> None:
        async with connection(required_redis_url(settings())) as redis:
            token, info = await TokenStore(redis).create(name, role)
        console.print(f"token {info.id} ({info.role.value}) for {info.name}:", highlight=False, markup=False)
        print(token)

    run(go)


@tokens.command("list")
def list_tokens() -> None:
    """The tokens: id, role, name and when created (never the tokens themselves)."""
    from datetime import UTC, datetime

    from engine.service.tokens import TokenStore

    async def go() -> None:
        async with connection(required_redis_url(settings())) as redis:
            for info in await TokenStore(redis).list():
                when = datetime.fromtimestamp(info.created_at, UTC).isoformat(timespec="seconds")
                print(f"{info.id}  {info.role.value:<8}  {when}  {info.name}")

    run(go)


@tokens.command("revoke")
def revoke(token_id: Annotated[str, typer.Argument(help="the token's id, from `tokens list`")]) -> None:
    """Revoke a token at once."""
    from engine.service.tokens import TokenStore

    async def go() -> None:
        async with connection(required_redis_url(settings())) as redis:
            info = await TokenStore(redis).revoke(token_id)
        if info is None:
            fail(f"no token with id {token_id!r}")
        assert info is not None
        console.print(f"revoked token {info.id} of {info.name}", highlight=False, markup=False)

    run(go)
