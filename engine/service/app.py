"""The API app: middlewares (problem answers), security headers, the operations and their OpenAPI document,
and the web console that uses them.

Stateless apart from Redis, so any number of ``koodispatch serve`` processes can stand behind one proxy.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import metadata
from pathlib import Path
from typing import Final

import orjson
from aiohttp import web
from arq.connections import ArqRedis

from engine.runtime.settings import Settings
from engine.service import openapi, routes
from engine.service.console import pages as console
from engine.service.context import SERVICES, Limits, Services
from engine.service.events import TICK, Hub, ProgressCache
from engine.service.operations import PREFIX
from engine.service.problems import problems
from engine.service.sessions import SessionStore
from engine.service.tokens import TokenStore

MAX_UPLOAD_BYTES: Final = 512 * 1024 * 1024  # a recipient file of ~20 million rows
SHUTDOWN_SECONDS: Final = 3.0  # event streams never end by themselves: a stop waits this long for them
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


async def _secure(request: web.Request, response: web.StreamResponse) -> None:
    """Headers every answer carries; an operation may set a looser CSP of its own (the HTML report)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def build_app(
    settings: Settings,
    redis: ArqRedis,
    *,
    upload_dir: Path | None = None,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    tick: float = TICK,
    proxies: frozenset[str] = frozenset(),
) -> web.Application:
    """The API app on an open queue connection; uploads wait in ``upload_dir`` (the system's temp dir);
    ``proxies`` are the addresses of reverse proxies whose ``X-Forwarded-For`` names the client."""
    api = routes.load()
    app = web.Application(middlewares=[problems], client_max_size=max_upload_bytes)
    hub = Hub(redis, tick)
    limits = Limits(max_upload_bytes, upload_dir or Path(tempfile.gettempdir()))
    tokens = TokenStore(redis)
    app[SERVICES] = Services(
        redis, settings, tokens, SessionStore(redis, tokens), hub, ProgressCache(redis), limits, proxies
    )
    app.on_response_prepare.append(_secure)
    app.on_cleanup.append(lambda _: hub.close())
    api.install(app)
    spec = orjson.dumps(openapi.document(api.operations, metadata.version("koodispatch")))

    async def openapi_json(_: web.Request) -> web.Response:
        return web.Response(body=spec, content_type="application/json")

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_get(PREFIX + "/openapi.json", openapi_json)
    app.router.add_get("/healthz", health)
    console.install(app)
    return app


@asynccontextmanager
async def serve(
    settings: Settings, redis: ArqRedis, host: str = "127.0.0.1", port: int = 0, **options: object
) -> AsyncIterator[str]:
    """Serve the API until the block exits; yields its base URL (port 0 = a free one). ``options`` go to
    ``build_app``. No access log: a URL never holds a secret here, but the default one is costly."""
    app = build_app(settings, redis, **options)  # type: ignore[arg-type]
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        url_host = f"[{host}]" if ":" in host else host
        yield f"http://{url_host}:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
