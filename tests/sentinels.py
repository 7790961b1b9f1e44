"""A Redis primary, its replica and the sentinels that watch them: real redis-server processes.

Used on loopback (``tests/store/test_sentinel.py``) and across hosts (``tests/hosts/test_failover.py``):
each server is started inside ``on(its address)``, which is nothing on loopback and joins the server's host
on the namespace harness (``Network.entered``: a process started meanwhile runs there). Failover is quick:
a primary is taken for down after ``DOWN_AFTER_MS`` without an answer.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import redis

from engine.runtime.redis_address import sentinel_url
from engine.runtime.redis_server import RedisServer, find_redis_server, free_port
from engine.store.sentinel import SentinelAddress

MASTER: Final = "mymaster"
DOWN_AFTER_MS: Final = 1000
FAILOVER_TIMEOUT_MS: Final = 5000
DEBIAN_REDIS: Final = "/usr/bin/redis-server"  # 7.0 here; the one on PATH may be older
On = Callable[[str], AbstractContextManager[object]]


def redis_binary() -> str:
    """Debian's redis-server when installed, else the one the private servers use."""
    return DEBIAN_REDIS if Path(DEBIAN_REDIS).is_file() else find_redis_server()


def here(_: str) -> AbstractContextManager[object]:
    """Every server on this host (loopback)."""
    return contextlib.nullcontext()


@dataclass
class Sentinel:
    """One ``redis-server --sentinel`` process; its configuration file is its own (Sentinel rewrites it)."""

    host: str
    port: int = field(default_factory=free_port)
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="koodispatch-sentinel-")))
    process: subprocess.Popen[bytes] | None = None

    def start(self, primary: RedisServer, password: str, quorum: int) -> None:
        config = self.directory / "sentinel.conf"
        config.touch(mode=0o600)
        config.write_text(
            "\n".join(
                [
                    f"port {self.port}",
                    f"bind {self.host}",
                    f"dir {self.directory}",
                    f"logfile {self.directory / 'sentinel.log'}",
                    f"requirepass {password}",
                    f"sentinel sentinel-pass {password}",
                    f"sentinel monitor {MASTER} {primary.host} {primary.port} {quorum}",
                    f"sentinel auth-pass {MASTER} {primary.password}",
                    f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}",
                    f"sentinel failover-timeout {MASTER} {FAILOVER_TIMEOUT_MS}",
                    "",
                ]
            )
        )
        argv = [redis_binary(), str(config), "--sentinel"]
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_listening(self.host, self.port)

    def knows(self, replicas: int, others: int, password: str, timeout: float = 20.0) -> None:
        """Return once this sentinel knows ``replicas`` replicas and ``others`` other sentinels."""
        client = redis.Redis(host=self.host, port=self.port, password=password)
        deadline = time.monotonic() + timeout
        try:
            while (
                len(client.execute_command("SENTINEL", "REPLICAS", MASTER)) < replicas
                or len(client.execute_command("SENTINEL", "SENTINELS", MASTER)) < others
            ):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the sentinel at {self.host}:{self.port} knows too few in {timeout}s")
                time.sleep(0.05)
        finally:
            client.close()

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)


@dataclass
class SentinelGroup:
    """A primary, its replicas and sentinels (a majority of them must agree the primary is down)."""

    primary: RedisServer
    replicas: list[RedisServer]
    sentinels: list[Sentinel]
    sentinel_password: str = field(default_factory=lambda: secrets.token_urlsafe(16), repr=False)

    @classmethod
    def build(cls, primary: str, replicas: Sequence[str], sentinels: Sequence[str]) -> SentinelGroup:
        """Servers at the given addresses, not started; all servers share a password."""
        password = secrets.token_urlsafe(24)
        servers = [
            RedisServer(
                binary=redis_binary(),
                host=host,
                password=password,
                config=(f"masterauth {password}", "repl-diskless-sync-delay 0"),
            )
            for host in (primary, *replicas)
        ]
        for replica in servers[1:]:
            replica.config += (f"replicaof {servers[0].host} {servers[0].port}",)
        return cls(servers[0], servers[1:], [Sentinel(host) for host in sentinels])

    @property
    def replica(self) -> RedisServer:
        """The first replica."""
        return self.replicas[0]

    @property
    def url(self) -> str:
        sentinels = ",".join(f"{s.host}:{s.port}" for s in self.sentinels)
        return sentinel_url(sentinels, MASTER, self.primary.password, self.sentinel_password)

    @property
    def address(self) -> SentinelAddress:
        return SentinelAddress.parse(self.url)

    def start(self, on: On = here) -> None:
        """Start every server, each inside ``on(its address)``."""
        for server in (self.primary, *self.replicas):
            with on(server.host):
                server.start()
        for replica in self.replicas:
            with on(replica.host):
                in_sync(replica)
        quorum = len(self.sentinels) // 2 + 1
        for sentinel in self.sentinels:
            with on(sentinel.host):
                sentinel.start(self.primary, self.sentinel_password, quorum)
        for sentinel in self.sentinels:  # a failover needs them to know the replicas and one another
            with on(sentinel.host):
                sentinel.knows(len(self.replicas), len(self.sentinels) - 1, self.sentinel_password)

    def close(self) -> None:
        for sentinel in self.sentinels:
            sentinel.close()
        for server in (*self.replicas, self.primary):
            server.close()


def in_sync(replica: RedisServer, timeout: float = 10.0) -> None:
    """Return once ``replica`` has synced with its primary; raise TimeoutError after ``timeout``."""
    client = redis.Redis(host=replica.host, port=replica.port, password=replica.password)
    deadline = time.monotonic() + timeout
    try:
        while client.info("replication").get("master_link_status") != "up":
            if time.monotonic() > deadline:
                raise TimeoutError(f"the replica at {replica.host}:{replica.port} did not sync in {timeout}s")
            time.sleep(0.02)
    finally:
        client.close()


def wait_listening(host: str, port: int, timeout: float = 10.0) -> None:
    """Return once something accepts connections at ``host:port``; raise TimeoutError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens at {host}:{port} after {timeout}s")
