"""Benchmarks across hosts: the namespace harness of ``tests/hosts`` (Redis and the simulator on one host,
workers on N others, over real TCP through a bridge) as a placement for ``_sim.run_engine``.

Needs root and iproute2, as the tests across hosts do. This process joins the server host for the whole
run, so its Redis client, the simulator and Redis itself (started from it) live there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from _common import ROOT

if str(ROOT) not in sys.path:  # the harness lives in the test package, beside benchmarks/
    sys.path.insert(0, str(ROOT))

from tests.hosts.credentials import private_credentials
from tests.hosts.netns import SUBNET, Host, Network, network, unavailable

SERVICE_ADDRESS = "200"  # Redis and the simulator, on the server host


@dataclass(frozen=True)
class Hosts:
    """Worker hosts of a network, as a ``_sim.Placement``: ``count`` workers on each."""

    net: Network
    hosts: list[Host]
    address: str

    def workers(
        self, count: int, url: str, env: Mapping[str, str], logs: Path
    ) -> AbstractContextManager[list[subprocess.Popen[bytes]]]:
        return self._workers(count, url, env, logs)

    @contextmanager
    def _workers(
        self, count: int, url: str, env: Mapping[str, str], logs: Path
    ) -> Iterator[list[subprocess.Popen[bytes]]]:
        argv = [sys.executable, "-m", "engine.cli", "worker"]
        environment = {**os.environ, **env, "REDIS_URL": url}
        procs = [
            self.net.spawn(host, argv, environment, logs / f"{host.name}-worker-{i}.log")
            for host in self.hosts
            for i in range(count)
        ]
        try:
            yield procs
        finally:
            for proc in procs:
                self.net.stop(proc)


@contextmanager
def on_hosts(count: int) -> Iterator[Hosts]:
    """``count`` worker hosts and a server host that this process joins; all removed on exit.

    The hosts talk over a bridge, not loopback, so the public demo credentials would be refused: this
    run's engine processes and simulator get credentials of their own (in this process's environment).
    Raises SystemExit with the reason where namespaces cannot be built.
    """
    reason = unavailable()
    if reason is not None:
        raise SystemExit(f"--hosts: {reason}")
    os.environ.update(private_credentials())
    with network(f"kdb-{os.getpid()}-") as net:
        server = net.add_host("server", SERVICE_ADDRESS)
        hosts = [net.add_host(f"w{i}") for i in range(1, count + 1)]
        with net.entered(server):
            yield Hosts(net, hosts, f"{SUBNET}.{SERVICE_ADDRESS}")
