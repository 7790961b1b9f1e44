"""Fixtures of the tests across hosts: Redis and the simulator on one host, workers on three others.

The test process joins the Redis host for the whole test (``Network.entered``), so its Redis client and
the simulator's thread live there, as an operator's console on the Redis machine would; workers are real
``koodispatch worker`` processes started on their hosts with ``ip netns exec``. Where namespaces cannot be
built the tests skip with the reason, except on CI (``CI`` set: ``.ci/run`` exports ``CI=1``), where they
fail instead: a CI run must never pass without having crossed hosts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen
from typing import Final

import pytest

from engine.runtime.redis_server import RedisServer
from engine.simulator import SimConfig, SimulatorThread
from tests.conftest import SIMULATOR_SEED
from tests.hosts.credentials import private_credentials
from tests.hosts.netns import SUBNET, Host, Network, network, unavailable
from tests.sentinels import SentinelGroup

WORKER_HOSTS: Final = 3
FAKETIME_LIBRARY: Final = "/usr/lib/*/faketime/libfaketimeMT.so.1"
PROVIDER_ADDRESS: Final = "200"  # the simulator's own address on the Redis host: cut apart from Redis's
CAMPAIGN_ENV: Final = {  # of the workers of a campaign that a fault interrupts
    # a call is surely over 6 s after it began: a successor's reconciliation waits no longer than that
    "KOODISPATCH_PROVIDER__CONNECT_TIMEOUT": "1",
    "KOODISPATCH_PROVIDER__READ_TIMEOUT": "3",
    "KOODISPATCH_PROVIDER__ANSWER_GRACE": "2",
    "KOODISPATCH_RATES__SMART": "1500",
    "KOODISPATCH_RATES__BASIC": "1500",
}
LATENCY: Final = {
    "latency_ms": [20, 120]
}  # the simulator's faults: calls are in flight whenever a fault comes


def needs(reason: str | None) -> None:
    """Skip with ``reason`` unless it is None; fail instead on CI, which must run every test across hosts."""
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the tests across hosts, but: {reason}")
    pytest.skip(reason)


def require_namespaces() -> None:
    """Skip (fail on CI) when this machine cannot build hosts."""
    needs(unavailable())


def require_faketime() -> None:
    """Skip (fail on CI) without libfaketime, which skews a host's clock (Debian: faketime)."""
    require_namespaces()
    needs(None if faketime_library() else "libfaketime is not installed (Debian: apt-get install faketime)")


@dataclass(frozen=True)
class Cluster:
    """The hosts of one test: Redis and the simulator on ``server``, worker hosts in ``workers``; ``url``
    is the Redis the workers use (``redis``'s, or through the sentinels of ``group``, whose primary it is).
    """

    net: Network
    server: Host
    workers: list[Host]
    redis: RedisServer
    sim: SimulatorThread
    provider_address: str
    url: str
    group: SentinelGroup | None = None

    def worker(self, host: Host, env: Mapping[str, str], log: Path, clock: str = "") -> Popen[bytes]:
        """A real ``koodispatch worker`` on ``host`` (the cwd's engine), stopped with the network; with
        ``clock`` (e.g. ``"+30s"``) its wall clock is that far off (libfaketime preloaded into the worker
        itself, not its ``faketime`` wrapper, which would run it as a child: the pid is the worker's)."""
        if clock:
            library = faketime_library()
            assert library is not None, "require_faketime() first"
            env = {**env, "LD_PRELOAD": library, "FAKETIME": clock}
        return self.net.spawn(host, [sys.executable, "-m", "engine.cli", "worker"], env, log)


def faketime_library() -> str | None:
    """libfaketime for threaded programs, where Debian's package puts it; None when not installed."""
    found = sorted(glob.glob(FAKETIME_LIBRARY))
    return found[0] if found else None


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    require_namespaces()
    with hosts(monkeypatch.setenv) as (net, server, workers):
        redis = RedisServer(host=server.address)
        with net.entered(server):
            redis.start()
        try:
            with serving(net, server, workers, redis, redis.url) as built:
                yield built
        finally:
            redis.close()


@pytest.fixture
def sentinel_cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    require_namespaces()
    with sentinel_hosts(monkeypatch.setenv) as built:
        yield built


@contextlib.contextmanager
def sentinel_hosts(
    setenv: Callable[[str, str], None], prefix: str | None = None, replicas: int = 1
) -> Iterator[Cluster]:
    """The primary on the server host, each replica on a host of its own, a sentinel on the server host,
    the first replica's and the first worker host's: workers reach Redis through the sentinels (also
    ``benchmarks/failover.py``)."""
    with hosts(setenv, prefix) as (net, server, workers):
        kept = [net.add_host(f"replica{i}") for i in range(1, replicas + 1)]
        on = {host.address: host for host in net.hosts.values()}
        sentinels = [server.address, kept[0].address, workers[0].address]
        group = SentinelGroup.build(server.address, [host.address for host in kept], sentinels)
        try:
            group.start(lambda address: net.entered(on[address]))
            with serving(net, server, workers, group.primary, group.url) as built:
                yield dataclasses.replace(built, group=group)
        finally:
            group.close()


@contextlib.contextmanager
def hosts(
    setenv: Callable[[str, str], None], prefix: str | None = None
) -> Iterator[tuple[Network, Host, list[Host]]]:
    """A network with the server host (Redis, the provider's address) and the worker hosts; the engine's
    and the simulator's credentials set with ``setenv`` (off loopback, the demo ones are refused)."""
    for name, value in private_credentials().items():  # before the simulator reads them
        setenv(name, value)
    with network(prefix) as net:
        server = net.add_host("redis", PROVIDER_ADDRESS)
        yield net, server, [net.add_host(f"w{i}") for i in range(1, WORKER_HOSTS + 1)]


@contextlib.contextmanager
def serving(
    net: Network, server: Host, workers: list[Host], redis: RedisServer, url: str
) -> Iterator[Cluster]:
    """The simulator on the server host, which this thread joins; the workers started meanwhile are
    stopped at the end, before Redis."""
    provider = f"{SUBNET}.{PROVIDER_ADDRESS}"
    with net.entered(server), SimulatorThread(SimConfig(seed=SIMULATOR_SEED), host=provider) as sim:
        try:
            yield Cluster(net, server, workers, redis, sim, provider, url)
        finally:
            net.close_processes()
