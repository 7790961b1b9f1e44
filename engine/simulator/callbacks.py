"""The receipt poster: one shared ClientSession, bounded concurrency, failures that never reach the API."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Literal
from urllib.parse import urlencode

import aiohttp
import orjson
from yarl import URL

from engine.simulator.config import CallbackConfig
from engine.simulator.ledger import Ledger

log = logging.getLogger(__name__)
PostKind = Literal["json", "form"]
_LOCAL_NAMES = frozenset({"localhost"})


def is_loopback(url: str) -> bool:
    """Whether ``url`` points at this machine (the only place callbacks go unless allow_remote is set)."""
    try:
        host = URL(url).host or ""
    except ValueError:
        return False
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class CallbackPoster:
    """Posts status reports in background tasks; counts ``posted``, ``failed`` and ``skipped_remote``."""

    def __init__(self, settings: Callable[[], CallbackConfig], ledger: Ledger) -> None:
        self._settings = settings
        self._ledger = ledger
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(settings().concurrency)

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        """Cancel pending deliveries and close the session."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def spawn(self, job: Coroutine[Any, Any, None]) -> None:
        """Run a delivery in the background; the API answer never waits for it."""
        task = asyncio.get_running_loop().create_task(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def post(self, url: str, kind: PostKind, payload: Any) -> None:
        """POST one report as JSON or form-urlencoded; any failure is counted and logged, never raised."""
        settings = self._settings()
        if not settings.allow_remote and not is_loopback(url):
            self._ledger.callbacks["skipped_remote"] += 1
            log.warning("callback to non-loopback URL skipped (set callbacks.allow_remote to allow)")
            return
        if kind == "json":
            body, content_type = orjson.dumps(payload), "application/json"
        else:
            body, content_type = urlencode(payload).encode(), "application/x-www-form-urlencoded"
        async with self._slots:
            await self._send(url, body, content_type, settings.timeout_s)

    async def _send(self, url: str, body: bytes, content_type: str, timeout_s: float) -> None:
        assert self._session is not None, "CallbackPoster.start() was not awaited"
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        try:
            async with self._session.post(
                url, data=body, headers={"Content-Type": content_type}, timeout=timeout
            ) as response:
                await response.read()
                ok = response.status < 400
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            log.debug("callback POST failed: %s", type(exc).__name__)
            ok = False
        self._ledger.callbacks["posted" if ok else "failed"] += 1
