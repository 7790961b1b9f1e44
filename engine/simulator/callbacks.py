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
    """Posts status reports in background tasks, again after a failure (``retries``, with a doubling delay)
    as the platform does; counts ``posted``, ``retried``, ``failed`` (every attempt failed) and
    ``skipped_remote``."""

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
        delay = settings.retry_delay_s
        for attempt in range(settings.retries + 1):
            if attempt:
                await asyncio.sleep(delay)
                delay *= 2
                self._ledger.callbacks["retried"] += 1
                if kind == "json" and isinstance(payload, dict) and "retry" in payload:
                    payload = {**payload, "retry": True}  # the smart-message report says it is a repeat
            async with self._slots:
                if await self._send(url, _encoded(kind, payload), settings.timeout_s):
                    self._ledger.callbacks["posted"] += 1
                    return
        self._ledger.callbacks["failed"] += 1

    async def _send(self, url: str, encoded: tuple[bytes, str], timeout_s: float) -> bool:
        """One POST; whether the receiver took it (any answer below 400)."""
        assert self._session is not None, "CallbackPoster.start() was not awaited"
        body, content_type = encoded
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        try:
            async with self._session.post(
                url, data=body, headers={"Content-Type": content_type}, timeout=timeout
            ) as response:
                await response.read()
                return response.status < 400
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            log.debug("callback POST failed: %s", type(exc).__name__)
            return False


def _encoded(kind: PostKind, payload: Any) -> tuple[bytes, str]:
    """The POST body and its content type."""
    if kind == "json":
        return orjson.dumps(payload), "application/json"
    return urlencode(payload).encode(), "application/x-www-form-urlencoded"
