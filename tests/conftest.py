"""Shared fixtures: one private Redis per session (or REDIS_URL), a fresh logical DB per test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
from arq.connections import ArqRedis

from engine.runtime.redis_server import RedisServer
from engine.store.connection import open_queue

_DATABASES = 64


class RedisPool:
    """Hands out one empty logical DB per test; flushes only a server this session started itself."""

    def __init__(self, base_url: str, owned: bool) -> None:
        self.base_url = base_url.rsplit("/", 1)[0] if base_url.count("/") > 2 else base_url
        self.owned = owned
        # test processes sharing one external server (pytest-xdist) each take their own share of the DBs
        index = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
        count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
        self._databases = [db for db in range(1, _DATABASES) if (db - 1) % count == index]
        self._next = 0

    def take(self) -> str:
        for _ in self._databases:
            db = self._databases[self._next]
            self._next = (self._next + 1) % len(self._databases)
            url = f"{self.base_url}/{db}"
            client = redis.Redis.from_url(url)
            try:
                if self.owned:
                    client.flushdb()
                    return url
                if client.dbsize() == 0:
                    return url
            finally:
                client.close()
        raise RuntimeError("no empty logical database left on the external Redis at REDIS_URL")


TIMED_APART = ("tests/hosts/", "tests/dispatch/test_sms_chaos.py", "tests/dispatch/test_crash_loop.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests whose goals are seconds (takeover after a kill, a partition healed within a lease) and that
    load the machine themselves run one after another in one test process, beside only lighter tests."""
    for item in items:
        if item.nodeid.startswith(TIMED_APART):
            item.add_marker(pytest.mark.xdist_group("timed_apart"))


@pytest.fixture(scope="session")
def redis_pool() -> Iterator[RedisPool]:
    external = os.environ.get("REDIS_URL")
    if external:
        yield RedisPool(external, owned=False)
        return
    server = RedisServer()
    server.start()
    try:
        yield RedisPool(server.url, owned=True)
    finally:
        server.close()


@pytest.fixture
def redis_url(redis_pool: RedisPool) -> str:
    """URL of an empty logical Redis DB reserved for this test."""
    return redis_pool.take()


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def arq_redis(redis_url: str) -> AsyncIterator[ArqRedis]:
    """An ArqRedis on the test DB, as submission and resend need (they enqueue batch jobs)."""
    redis = await open_queue(redis_url)
    try:
        yield redis
    finally:
        await redis.aclose()


@pytest.fixture(autouse=True)
def _sdk_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The official Huawei SDK writes ~/.huaweicloud/application_id; keep it out of the real HOME."""
    home: Path = tmp_path_factory.getbasetemp() / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))


# --- simulator fixtures ---
import aiohttp  # noqa: E402

from engine.simulator import RunningSimulator, SimConfig, SimulatorThread, run_simulator  # noqa: E402
from engine.simulator.testing import SignedClient  # noqa: E402

SIMULATOR_SEED = 20240101
SHARE = 0.7  # capable share of the ``sim`` fixture's simulator


@pytest.fixture
async def simulator() -> AsyncIterator[RunningSimulator]:
    """The provider simulator in the test's event loop, seeded; patch it with ``simulator.update_config``."""
    async with run_simulator(SimConfig(seed=SIMULATOR_SEED)) as sim:
        yield sim


@pytest.fixture
async def sim_client(simulator: RunningSimulator) -> AsyncIterator[SignedClient]:
    """Signs and sends raw requests to ``simulator`` as the official SDK would."""
    async with aiohttp.ClientSession() as session:
        yield SignedClient(simulator.url, simulator.config, session, simulator.admin_token)


@pytest.fixture
def simulator_thread() -> Iterator[SimulatorThread]:
    """The provider simulator on its own loop in a background thread (blocking clients, subprocesses)."""
    with SimulatorThread(SimConfig(seed=SIMULATOR_SEED)) as sim:
        yield sim


@pytest.fixture
def sim(simulator_thread: SimulatorThread) -> SimulatorThread:
    """The simulator with capable share SHARE and no rate limits of its own, ledger empty."""
    simulator_thread.reset()
    simulator_thread.update_config(
        {"capable_share": SHARE, "rates": {"smart": None, "sms": None, "basic": None, "capability": None}}
    )
    return simulator_thread
