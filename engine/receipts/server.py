"""The receipts HTTP service: ``POST /receipts/<token>/<kind>`` for every callback the provider makes.

Routes (``kind``): ``smart`` (smart-message receipts, url_type 0 or 2), ``basic`` (basic-edition send
status, url_type 0), ``basic-uplink`` (url_type 1), ``sms`` (SMS status reports: KooMessage /v1/aim/sms
and Message&SMS ``statusCallback``), ``uplink`` (SMS MO replies). The token may instead come in the
``X-Koodispatch-Token`` header on ``POST /receipts/<kind>`` (for a proxy that adds it). 401 when it is wrong,
400 for a body in the wrong format, 200 once recorded (the provider ignores the body).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import RedisError

from engine.errors import BadReceipt, Unauthorized
from engine.provider.callbacks import ROUTE_PREFIX
from engine.receipts.auth import TOKEN_HEADER, Authenticator
from engine.receipts.http_log import masked_logger
from engine.receipts.parse import PARSERS
from engine.receipts.store import ReceiptStore
from engine.runtime.settings import Settings
from engine.state.receipts_presence import BEAT_SECONDS, beat

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 4 * 1024 * 1024  # a batch post of receipts is a few hundred KB at most


@dataclass(frozen=True, slots=True)
class Service:
    """What the handlers need: the authenticator, the store and the opt-out words."""

    auth: Authenticator
    store: ReceiptStore
    opt_out_words: tuple[str, ...]


SERVICE: web.AppKey[Service] = web.AppKey("koodispatch_receipts", Service)


async def receive(request: web.Request) -> web.Response:
    """Authenticate, parse and record one callback request."""
    service = request.app[SERVICE]
    kind = request.match_info["kind"]
    parser = PARSERS.get(kind)
    if parser is None:
        raise web.HTTPNotFound()
    try:
        service.auth.check_token(request.match_info.get("token") or request.headers.get(TOKEN_HEADER))
        body = await request.read()
        service.auth.check_signature(
            kind, request.method, request.path, request.query_string, request.headers, body
        )
    except Unauthorized as exc:
        await service.store.count(unauthorized=1)
        log.warning("receipt on %s refused: %s", kind, exc)  # the message never holds the token
        return web.json_response({"status": "unauthorized"}, status=401)
    try:
        parsed = parser(body)
    except BadReceipt as exc:
        await service.store.count(malformed=1)
        return web.json_response({"status": "bad request", "message": str(exc)}, status=400)
    await service.store.count(received=len(parsed.receipts), dropped=parsed.dropped)
    recorded = await service.store.record(parsed.receipts)
    opted = await service.store.opt_out(parsed.replies, service.opt_out_words)
    return web.json_response(
        {"status": "ok", "new": recorded.new, "duplicate": recorded.duplicate,
         "pending": recorded.pending, "opt_out": opted}
    )  # fmt: skip


async def _heartbeat(redis: aioredis.Redis) -> None:
    """Say that reports are being recorded (``receipts_presence``) for as long as the service runs; a Redis
    away longer than its client's retries only skips beats."""
    while True:
        try:
            await beat(redis)
        except (RedisError, OSError) as exc:
            log.warning("receipts heartbeat not written: %s", exc)
        await asyncio.sleep(BEAT_SECONDS)


def _beating(redis: aioredis.Redis) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(_heartbeat(redis))
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    return ctx


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def build_app(settings: Settings, redis: aioredis.Redis) -> web.Application:
    """The receipts app on an open Redis client; raises ConfigError when no receipt token is configured."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    service = Service(
        Authenticator.from_settings(settings), ReceiptStore(redis), tuple(settings.receipts.opt_out_words)
    )
    app[SERVICE] = service
    app.cleanup_ctx.append(_beating(redis))
    app.router.add_post(ROUTE_PREFIX + "/{token}/{kind}", receive)
    app.router.add_post(ROUTE_PREFIX + "/{kind}", receive)
    app.router.add_get("/healthz", health)
    return app


@asynccontextmanager
async def serve(
    settings: Settings, redis: aioredis.Redis, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[str]:
    """Serve the receipts app until the block exits; yields its base URL (port 0 = a free one).

    URLs hold the token: there is no access log, and aiohttp's own records (a request line it cannot parse
    is logged in full) go through a logger that masks it.
    """
    app = build_app(settings, redis)  # ConfigError here when no token is configured
    assert settings.receipts_token is not None
    with masked_logger(settings.receipts_token.get_secret_value()) as logger:
        runner = web.AppRunner(app, access_log=None, logger=logger)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
            url_host = f"[{host}]" if ":" in host else host
            yield f"http://{url_host}:{runner.addresses[0][1]}"
        finally:
            await runner.cleanup()
