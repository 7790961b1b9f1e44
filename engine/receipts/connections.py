"""A cap on the receipts service's connections, so idle or half-sent ones cannot take every socket.

aiohttp closes a connection that has not sent a whole request's headers within its keep-alive timeout (the
service sets it to ``receipts.header_timeout``) but holds any number of them until then: 240 half-sent
requests used to exhaust 256 file descriptors and fail ``/healthz``. ``ConnectionGuard`` is the listening
socket's protocol factory: at the cap, a new connection closes the oldest one that has no request in
progress (a body still coming in does not count: it has ``receipts.body_timeout`` to arrive), and is itself
refused (503) only when every held connection is busy with a request.
"""

from __future__ import annotations

import asyncio
import resource
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

FD_RESERVE: Final = 32  # descriptors kept for Redis, logs and the listening socket itself
REFUSAL: Final = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def connection_cap(configured: int) -> int:
    """``configured``, but at most the process' open-file limit less ``FD_RESERVE`` (and at least 1)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return configured
    return max(1, min(configured, soft - FD_RESERVE))


class _Refused(asyncio.Protocol):
    """A connection over the cap while every held one is busy: answered 503 and closed at once."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(REFUSAL)
        transport.close()


class ConnectionGuard:
    """Holds at most ``cap`` connections of ``server`` and gives a body ``body_timeout`` seconds; counts
    what it closed in ``evicted`` / ``refused`` / ``slow_bodies``."""

    def __init__(self, cap: int, body_timeout: float) -> None:
        self.cap = cap
        self.body_timeout = body_timeout
        self.evicted = 0
        self.refused = 0
        self.slow_bodies = 0
        self._server: web.Server | None = None
        self._busy: set[RequestHandler] = set()  # a request of theirs is being handled
        self._closing: set[RequestHandler] = set()  # evicted, not yet gone from the server's list

    def attach(self, server: web.Server) -> Callable[[], asyncio.BaseProtocol]:
        """The protocol factory to listen with, in front of aiohttp's ``server``."""
        self._server = server
        return self._connect

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Reads the request's body within ``body_timeout`` (else 408), then marks its connection busy while
        the request is handled: a connection still trickling its body in may be evicted, one being
        answered never is."""
        try:
            async with asyncio.timeout(self.body_timeout):
                await request.read()  # kept by aiohttp for the handler's own read
        except TimeoutError:
            self.slow_bodies += 1
            return web.json_response({"status": "request timeout"}, status=408)
        except (
            ConnectionResetError
        ):  # gone (or evicted) before its body came: nobody to answer, nothing to log
            return web.Response(status=400)
        connection = request.protocol
        self._busy.add(connection)
        try:
            return await handler(request)
        finally:
            self._busy.discard(connection)

    def _connect(self) -> asyncio.BaseProtocol:
        assert self._server is not None
        connections = self._server.connections
        self._closing.intersection_update(connections)
        held = [c for c in connections if c not in self._closing]
        if len(held) >= self.cap and not self._evict(held):
            self.refused += 1
            return _Refused()
        return self._server()

    def _evict(self, held: list[RequestHandler]) -> bool:
        """Close the oldest held connection with no request in progress; False when all are busy."""
        for connection in held:  # aiohttp lists them in the order they were made
            if connection not in self._busy:
                self._closing.add(connection)
                connection.force_close()
                self.evicted += 1
                return True
        return False
