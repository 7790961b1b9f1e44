"""Run the simulator from tests and benchmarks: in the current event loop, or in a background thread.

The thread form exists for blocking clients (the official Huawei SDK) and for worker subprocesses, which
need a server that keeps answering while the test's own thread blocks.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlencode

import aiohttp
import orjson
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from engine.provider.signer import HEADER_NONCE, Credentials, canonical_query, query_pairs, sign
from engine.simulator.app import build_app
from engine.simulator.auth import SMS_API_PREFIX
from engine.simulator.config import SimConfig
from engine.simulator.ledger import Ledger
from engine.simulator.state import STATE, SimState
from engine.simulator.store import Store
from engine.simulator.templates import DEMO_PORT, DEMO_SMART_TPL_ID

T = TypeVar("T")
SHUTDOWN_TIMEOUT = 1.0  # seconds granted to in-flight calls (e.g. simulated timeouts) on shutdown
_START_TIMEOUT = 10.0


@dataclass(frozen=True)
class RunningSimulator:
    """A simulator serving at ``url``; its objects are live and belong to the loop it runs in."""

    url: str
    app: web.Application

    @property
    def state(self) -> SimState:
        return self.app[STATE]

    @property
    def config(self) -> SimConfig:
        return self.state.config

    @property
    def ledger(self) -> Ledger:
        return self.state.ledger

    @property
    def store(self) -> Store:
        return self.state.store

    @property
    def admin_token(self) -> str:
        """What ``/_simulator/*`` (but health) wants in ``X-Simulator-Token``."""
        return self.state.admin_token

    def update_config(self, changes: dict[str, Any]) -> None:
        """Patch the live config (see :meth:`SimConfig.update`); raises ConfigError on a bad key."""
        self.state.update_config(changes)

    def reset(self) -> None:
        self.state.reset()


def smart_send_body(task_name: str, cust_flags: Iterable[str], **param_fields: Any) -> dict[str, Any]:
    """A valid ``POST /v1/aim/send-tasks`` body for the demo template: one link per cust_flag.

    ``param_fields`` (e.g. ``sms_params=["x"]``) are added to every link.
    """
    return {
        "task_name": task_name,
        "sms_channel": {
            "channel_number": DEMO_PORT,
            "sms_tpl_id": "sms_tpl_1",
            "sms_sign": "华为云",
            "sms_app_name": "a",
        },
        "resolve_task": {
            "tpl_id": DEMO_SMART_TPL_ID,
            "resolve_times": 1,
            "aim_code_type": "individual",
            "expiration_time": 1,
            "params": [{"cust_flag": flag, **param_fields} for flag in cust_flags],
        },
    }


@dataclass(frozen=True)
class Reply:
    """A simulator answer: HTTP status, decoded JSON body (None when empty), case-insensitive headers."""

    status: int
    body: Any
    headers: CIMultiDict[str]


@dataclass(frozen=True)
class SignedClient:
    """Signs requests exactly as the official SDK does and sends them with aiohttp.

    For tests and benchmarks that need raw control (tampering, stale dates, odd bodies); the engine's
    own provider client lives in ``engine.provider``.
    """

    url: str
    config: SimConfig
    session: aiohttp.ClientSession
    admin_token: str = ""  # for tests of the /_simulator/* endpoints

    def sign(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        params: dict[str, Any] | None = None,
        content_type: str = "application/json",
        now: datetime | None = None,
    ) -> tuple[URL, dict[str, str]]:
        """The URL (query already canonical) and signed headers: app key for ``/sms/*``, else AK/SK.

        A random nonce header is signed too, so that the same request sent twice in one second is two
        requests to the simulator, which refuses a signature it has accepted before.
        """
        headers = {"Content-Type": content_type, HEADER_NONCE: os.urandom(8).hex()}
        if path.startswith(SMS_API_PREFIX):
            creds = Credentials(self.config.sms_app_key, self.config.sms_app_secret)
        else:
            creds = Credentials(self.config.ak, self.config.sk)
            headers["X-Project-Id"] = self.config.project_id
        pairs = query_pairs(params or {})
        url = URL(self.url)
        signed = sign(creds, method, f"{url.host}:{url.port}", path, pairs, headers, body, now)
        query = canonical_query(pairs)
        return URL(f"{self.url}{path}{'?' + query if query else ''}", encoded=True), signed

    async def send(self, method: str, url: URL, headers: dict[str, str], body: bytes = b"") -> Reply:
        """Send an already signed (or deliberately tampered) request."""
        async with self.session.request(method, url, data=body or None, headers=headers) as response:
            raw = await response.read()
            decoded = orjson.loads(raw) if raw else None
            return Reply(response.status, decoded, CIMultiDict(response.headers))

    async def call(
        self,
        method: str,
        path: str,
        json: Any = None,
        form: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Reply:
        """Sign and send; ``json`` or ``form`` becomes the body, ``params`` the query."""
        if form is not None:
            body, content_type = urlencode(form).encode(), "application/x-www-form-urlencoded"
        else:
            body, content_type = (orjson.dumps(json) if json is not None else b""), "application/json"
        url, headers = self.sign(method, path, body, params, content_type)
        return await self.send(method, url, headers, body)


@asynccontextmanager
async def run_simulator(
    config: SimConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    access_log: bool = False,
    admin_token: str | None = None,
) -> AsyncIterator[RunningSimulator]:
    """Serve the simulator in the running loop on ``host`` (loopback) and ``port`` (0 = a free one), its
    admin endpoints behind ``admin_token`` (a random one unless given)."""
    app = build_app(config, admin_token)
    logger = logging.getLogger("aiohttp.access") if access_log else None
    runner = web.AppRunner(app, shutdown_timeout=SHUTDOWN_TIMEOUT, access_log=logger)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        bound_port = runner.addresses[0][1]
        url_host = f"[{host}]" if ":" in host else host
        yield RunningSimulator(f"http://{url_host}:{bound_port}", app)
    finally:
        await runner.cleanup()


class SimulatorThread:
    """The simulator on its own event loop in a daemon thread; use as a context manager.

    ``url`` and ``config`` are plain attributes; read the ledger and change the config through
    :meth:`ledger`, :meth:`update_config` and :meth:`reset`, which run inside the server's loop.
    """

    def __init__(self, config: SimConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or SimConfig()
        self._host, self._port = host, port
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._sim: RunningSimulator | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return self._running().url

    @property
    def admin_token(self) -> str:
        return self._running().admin_token

    def __enter__(self) -> SimulatorThread:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start serving; returns once the port is bound (raises what the server raised, if it failed)."""
        self._thread = threading.Thread(target=self._run, name="kd-simulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            raise RuntimeError("simulator thread did not start in time")
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        """Shut the server down, join the thread and raise what the server raised while running."""
        if self._loop is not None and self._stop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(_START_TIMEOUT + SHUTDOWN_TIMEOUT)
        self._loop = self._stop = self._sim = None
        if self._error is not None:
            raise self._error

    def call(self, func: Callable[[RunningSimulator], T]) -> T:
        """Run ``func(simulator)`` inside the server's loop and return its result (thread-safe)."""
        sim, loop = self._running(), self._loop
        assert loop is not None

        async def invoke() -> T:
            return func(sim)

        return asyncio.run_coroutine_threadsafe(invoke(), loop).result(_START_TIMEOUT)

    def ledger(self, detail: bool = False, channel: str | None = None) -> dict[str, Any]:
        """The ledger snapshot, as ``GET /_simulator/ledger`` answers it."""
        return self.call(lambda sim: sim.ledger.snapshot(detail=detail, channel=channel))

    def update_config(self, changes: dict[str, Any]) -> None:
        """Patch the live config; raises ConfigError (from the server's thread) on a bad key."""
        self.call(lambda sim: sim.update_config(changes))

    def reset(self) -> None:
        self.call(lambda sim: sim.reset())

    def _running(self) -> RunningSimulator:
        if self._sim is None:
            raise RuntimeError("the simulator thread is not running")
        return self._sim

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            async with run_simulator(self.config, self._host, self._port) as sim:
                self._sim = sim
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:  # handed to start() / stop() in the caller's thread
            self._error = exc
        finally:
            self._ready.set()
