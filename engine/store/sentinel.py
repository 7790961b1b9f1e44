"""Redis through Sentinel: every (re)connect asks the sentinels where the primary is now, and checks it is.

redis-py's asyncio Sentinel pool looks the primary up once and reconnects to the same address on retries
(redis-py #3874), and arq's Sentinel mode passes no timeouts, retries or Sentinel password. So the address
of the primary is not kept here at all: :class:`SentinelConnection` discovers it on each connect (``SENTINEL
MASTER`` of every sentinel, the latest configuration wins), then asks the server its ``ROLE``: a demoted
primary, or one a stale sentinel still names, is refused like a refused connection. A ``READONLY`` answer
(the primary was demoted while the connection was open) drops the connection the same way. Each is a
``ConnectionError``, which the client's ``Retry`` (``engine/store/connection.py``) rides out: commands go
on at the new primary after a failover as they do after a restart.

The address is one URL (``engine/runtime/redis_address.py``), so it travels wherever a ``REDIS_URL`` does:
``redis+sentinel://[:password@]host:port,host:port/<master>[/<db>][?sentinel_password=...]``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

from redis.asyncio.client import Redis
from redis.asyncio.connection import Connection, ConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError, ReadOnlyError, RedisError
from redis.utils import str_if_bytes

from engine.types import SENTINEL_SCHEME, is_sentinel_url

DEFAULT_MASTER: Final = "mymaster"
DEFAULT_PORT: Final = 26379
# A primary that vanished without closing its sockets (host down, partition) must not hang a command
# forever before the failover can be noticed; nothing the engine sends takes a fraction of this.
SOCKET_TIMEOUT: Final = 15.0


@dataclass(frozen=True)
class SentinelAddress:
    """Where the sentinels are, the name of the primary they watch, and the credentials of both."""

    sentinels: tuple[tuple[str, int], ...]
    master: str = DEFAULT_MASTER
    db: int = 0
    password: str | None = field(default=None, repr=False)  # the Redis servers'
    sentinel_password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, url: str) -> SentinelAddress:
        """The address a ``redis+sentinel://`` URL names; ValueError saying what is wrong with it."""
        parts = urlsplit(url)
        if parts.scheme != SENTINEL_SCHEME:
            raise ValueError(f"not a {SENTINEL_SCHEME}:// URL")
        credentials, _, hosts = parts.netloc.rpartition("@")
        path = [unquote(p) for p in parts.path.strip("/").split("/") if p]
        if len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
            raise ValueError("the path is /<master name>[/<db number>]")
        query = parse_qs(parts.query)
        if set(query) - {"sentinel_password"}:
            raise ValueError(f"unknown parameters: {', '.join(sorted(set(query) - {'sentinel_password'}))}")
        password = unquote(credentials.partition(":")[2]) or None
        return cls(
            sentinels=parse_sentinels(hosts),
            master=path[0] if path else DEFAULT_MASTER,
            db=int(path[1]) if len(path) == 2 else 0,
            password=password,
            sentinel_password=query.get("sentinel_password", [None])[0],
        )


def parse_sentinels(text: str) -> tuple[tuple[str, int], ...]:
    """``host:port,host:port`` (a port may be left out: 26379); ValueError when none or one is malformed."""
    sentinels = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        host, colon, port = item.rpartition(":")
        if not colon:
            host, port = item, str(DEFAULT_PORT)
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{item!r} is not host:port")
        sentinels.append((host.strip("[]"), int(port)))
    if not sentinels:
        raise ValueError("no sentinel given (host:port,host:port,...)")
    return tuple(sentinels)


async def discover_primary(address: SentinelAddress, wait: float | None) -> tuple[str, int]:
    """The primary's address as the sentinels name it; ConnectionError when none answers.

    Every sentinel is asked at once (``wait`` seconds to connect and to answer), and of those that answer,
    the one with the latest configuration is believed (its ``config-epoch`` grows with every failover): a
    sentinel that has not heard of the last failover yet (they learn within about two seconds) must not
    send a worker to the old primary, which may be back, empty, and say it is a primary. Each discovery
    asks once: the caller's retries, with their backoff, are where a failover is waited out.
    """
    answers = await asyncio.gather(*(_ask(address, sentinel, wait) for sentinel in address.sentinels))
    named = [answer for answer in answers if not isinstance(answer, str)]
    if not named:
        raise ConnectionError(
            f"no sentinel named the primary {address.master!r}: {'; '.join(map(str, answers))}"
        )
    return max(named, key=lambda answer: answer[0])[1]  # the first of the latest, in the order given


async def _ask(
    address: SentinelAddress, sentinel: tuple[str, int], wait: float | None
) -> tuple[int, tuple[str, int]] | str:
    """(config epoch, primary's address) as ``sentinel`` knows them, or why it did not say."""
    host, port = sentinel
    connection = Connection(
        host=host,
        port=port,
        password=address.sentinel_password,
        socket_timeout=wait,
        socket_connect_timeout=wait,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        await connection.connect()  # type: ignore[no-untyped-call]
        await connection.send_command("SENTINEL", "MASTER", address.master)
        reply = [str_if_bytes(part) for part in await connection.read_response()]
    except (RedisError, OSError) as exc:  # down, unreachable, or it does not know the name
        return f"{host}:{port}: {exc}"
    finally:
        await connection.disconnect()
    fields = dict(zip(reply[::2], reply[1::2], strict=True))
    return int(fields["config-epoch"]), (fields["ip"], int(fields["port"]))


class SentinelConnection(Connection):
    """A connection to whichever server the sentinels name the primary when it connects, refused unless
    that server says it is the primary; ``READONLY`` (demoted meanwhile) drops it."""

    def __init__(self, *, sentinel: SentinelAddress, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sentinel = sentinel

    async def _connect(self) -> None:
        self.host, self.port = await discover_primary(self.sentinel, self.socket_connect_timeout)
        await super()._connect()  # type: ignore[no-untyped-call]

    async def on_connect(self) -> None:
        await super().on_connect()
        await self.send_command("ROLE")
        role = str_if_bytes((await self.read_response())[0])
        if role != "master":  # a stale sentinel, or a failover under way
            raise ConnectionError(f"{self.host}:{self.port} is a {role}, not the primary (yet)")

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().read_response(*args, **kwargs)
        except ReadOnlyError as exc:  # the server was demoted: whatever was sent did not run
            await self.disconnect()
            raise ConnectionError(f"{self.host}:{self.port} is no longer the primary: {exc}") from exc


def sentinel_pool(url: str, **kwargs: Any) -> ConnectionPool:
    """A pool of :class:`SentinelConnection`s to the primary of ``url``, with ``kwargs`` (timeouts, retry)
    for each; ValueError for a malformed URL."""
    address = SentinelAddress.parse(url)
    return ConnectionPool(
        connection_class=SentinelConnection,
        sentinel=address,
        db=address.db,
        password=address.password,
        socket_timeout=SOCKET_TIMEOUT,
        socket_keepalive=True,
        **kwargs,
    )


def client(url: str, connect_timeout: float) -> Redis:
    """A client on ``url`` (``redis://`` or ``redis+sentinel://``) that does not retry: for a person at the
    CLI. ValueError (or RuntimeError) when ``url`` names no Redis."""
    if is_sentinel_url(url):
        return Redis.from_pool(sentinel_pool(url, socket_connect_timeout=connect_timeout))
    direct: Redis = Redis.from_url(url, socket_connect_timeout=connect_timeout)
    return direct
