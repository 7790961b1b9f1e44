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
from engine.receipts.connections import ConnectionGuard, connection_cap
from engine.receipts.drain import Drainer
from engine.receipts.http_log import masked_logger
from engine.receipts.parse import PARSERS
from engine.receipts.store import ReceiptStore
from engine.receipts.tally import Tally
from engine.runtime.settings import Settings
from engine.state.receipts_presence import BEAT_SECONDS, beat

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 4 * 1024 * 1024  # a batch post of receipts is a few hundred KB at most
LINGER_SECONDS = 1.0  # after an answer given before its whole body came (408), the rest is awaited this long
THREAD_BYTES = 64 * 1024  # a larger body is parsed in a thread (45,000 items: ~0.15 s of CPU)


@dataclass(frozen=True, slots=True)
class Service:
    """What the handlers need: the authenticator, the store and the opt-out words."""

    auth: Authenticator
    store: ReceiptStore
    opt_out_words: tuple[str, ...]


SERVICE: web.AppKey[Service] = web.AppKey("koodispatch_receipts", Service)


async def _authenticated_body(service: Service, request: web.Request, kind: str) -> bytes:
    """The request's body once its token (and signature) check out; raises Unauthorized."""
    service.auth.check_token(request.match_info.get("token") or request.headers.get(TOKEN_HEADER))
    body = await request.read()  # read already, within the body timeout (``connections.py``)
    service.auth.check_signature(
        kind, request.method, request.path, request.query_string, request.headers, body
    )
    return body


async def receive(request: web.Request) -> web.Response:
    """Authenticate, parse and record one callback request."""
    service = request.app[SERVICE]
    kind = request.match_info["kind"]
    parser = PARSERS.get(kind)
    if parser is None:
        raise web.HTTPNotFound()
    tally = service.store.tally
    try:
        body = await _authenticated_body(service, request, kind)
    except Unauthorized:
        await tally.count(unauthorized=1)  # the reason stays out of logs: it may echo what was sent
        return web.json_response({"status": "unauthorized"}, status=401)
    try:
        parsed = await asyncio.to_thread(parser, body) if len(body) > THREAD_BYTES else parser(body)
    except BadReceipt as exc:
        await tally.count(malformed=1)
        return web.json_response({"status": "bad request", "message": str(exc)}, status=400)
    await tally.count(received=len(parsed.receipts), dropped=parsed.dropped)
    recorded = await service.store.record_all(parsed.receipts)
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


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def build_app(
    settings: Settings, redis: aioredis.Redis, guard: ConnectionGuard | None = None
) -> web.Application:
    """The receipts app on an open Redis client; raises ConfigError when no receipt token is configured.

    ``guard`` (the connection cap and body timeout) reads each body and marks the connections with a
    request in progress through a middleware.
    """
    cfg = settings.receipts
    app = web.Application(
        client_max_size=MAX_BODY_BYTES, middlewares=[guard.middleware] if guard is not None else []
    )
    store = ReceiptStore(redis, Tally(redis), cfg.opt_out_window_days, cfg.pending_per_task)
    auth = Authenticator.from_settings(settings)
    app[SERVICE] = Service(auth, store, tuple(cfg.opt_out_words))
    app.cleanup_ctx.append(_background(store, cfg.log_interval, guard))
    app.router.add_post(ROUTE_PREFIX + "/{token}/{kind}", receive)
    app.router.add_post(ROUTE_PREFIX + "/{kind}", receive)
    app.router.add_get("/healthz", health)
    return app


def _background(
    store: ReceiptStore, log_interval: float, guard: ConnectionGuard | None
) -> Callable[[web.Application], AsyncIterator[None]]:
    """The app's background tasks, cancelled at cleanup: the heartbeat, draining the kept receipts of tasks
    mapped since (``drain.py``) and the summary log line."""

    drainer = Drainer(store)

    def gauge() -> str:
        closed = (
            f"; connections evicted {guard.evicted}, refused {guard.refused}, slow bodies {guard.slow_bodies}"
            if guard
            else ""
        )
        return f"kept receipts of {drainer.drained} mapped tasks recorded" + closed

    async def tasks(_: web.Application) -> AsyncIterator[None]:
        running = [
            asyncio.create_task(_heartbeat(store.redis)),
            asyncio.create_task(drainer.run()),
            asyncio.create_task(store.tally.run(log_interval, gauge)),
        ]
        yield
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    return tasks


@asynccontextmanager
async def serve(
    settings: Settings, redis: aioredis.Redis, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[str]:
    """Serve the receipts app until the block exits; yields its base URL (port 0 = a free one).

    URLs hold the token: there is no access log, and aiohttp's own records (a request line it cannot parse
    is logged in full) go through a logger that masks it. A connection must send its request's headers
    within ``receipts.header_timeout`` (aiohttp's keep-alive timeout, which also runs from the connection's
    start) and its body within ``body_timeout``; at most ``connection_cap(max_connections)`` are held.
    """
    cfg = settings.receipts
    guard = ConnectionGuard(connection_cap(cfg.max_connections), cfg.body_timeout)
    app = build_app(settings, redis, guard)  # ConfigError here when no token is configured
    assert settings.receipts_token is not None
    with masked_logger(settings.receipts_token.get_secret_value()) as logger:
        runner = web.AppRunner(
            app,
            access_log=None,
            logger=logger,
            keepalive_timeout=cfg.header_timeout,
            lingering_time=LINGER_SECONDS,
        )
        await runner.setup()
        assert runner.server is not None
        listener = await asyncio.get_running_loop().create_server(guard.attach(runner.server), host, port)
        try:
            url_host = f"[{host}]" if ":" in host else host
            yield f"http://{url_host}:{listener.sockets[0].getsockname()[1]}"
        finally:
            listener.close()
            await runner.cleanup()
