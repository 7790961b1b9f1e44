"""Commands packed outside redis-py and sent as one pipeline on a pooled connection of a redis-py client.

redis-py's asyncio client packs every argument in Python, ~0.7 µs each, and its pipelines add their own
bookkeeping per command. hiredis packs in C, as redis-py's own synchronous client does: the coalesced
journal and budget scripts (``engine/store/coalesce.py``) and the capability cache's reads and writes go out
that way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import hiredis
import redis.asyncio as aioredis
from redis.asyncio.connection import Connection
from redis.exceptions import ResponseError

Arg = str | bytes | int | float
Command = tuple[Arg, ...]


def _pack(command: Command) -> bytes:
    # hiredis' stub types its argument as a 1-tuple; it takes a command of any length
    packed: bytes = hiredis.pack_command(command)  # type: ignore[arg-type]
    return packed


async def send_packed(
    redis: aioredis.Redis,
    *commands: Command | bytes,
    raise_on_error: bool = True,
    stale: Callable[[list[Any]], bool] | None = None,
) -> list[Any]:
    """The replies to ``commands`` (tuples, or bytes from :func:`pack_command`), in order. An error reply is
    raised once every reply is read, so the connection goes back to the pool clean; without
    ``raise_on_error`` it is returned in its place. When ``stale(replies)`` holds, the connection is closed
    before it goes back to the pool: its next user connects anew (through Sentinel, to the primary then).

    A dropped connection is disconnected and the whole pipeline sent again under the client's ``Retry``,
    as redis-py does for its own commands: the engine's writes are idempotent
    (``engine/store/connection.py``).
    """
    packed = b"".join(c if isinstance(c, bytes) else _pack(c) for c in commands)
    pool = redis.connection_pool
    connection: Connection = await pool.get_connection()

    async def run() -> list[Any]:
        await connection.send_packed_command(packed)
        replies: list[Any] = []
        for _ in commands:
            try:
                replies.append(await connection.read_response())
            except ResponseError as error:  # the next replies are still to be read
                replies.append(error)
        return replies

    async def drop(error: BaseException) -> None:  # as redis-py's own _disconnect_raise
        await connection.disconnect()
        if not isinstance(error, tuple(connection.retry_on_error or ())):
            raise error

    try:
        replies: list[Any] = await connection.retry.call_with_retry(run, drop)
        if stale is not None and stale(replies):
            await connection.disconnect()
    finally:
        await pool.release(connection)
    for reply in replies if raise_on_error else ():
        if isinstance(reply, ResponseError):
            raise reply
    return replies
