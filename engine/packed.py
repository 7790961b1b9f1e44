"""Commands packed by hiredis and sent as one pipeline on a pooled connection of a redis-py client.

For commands with thousands of arguments (``engine/capability_cache.py``): redis-py's asyncio client packs
every argument in Python, ~0.7 µs each; hiredis packs them in C, as redis-py's own synchronous client does.
"""

from __future__ import annotations

from typing import Any

import hiredis
import redis.asyncio as aioredis
from redis.asyncio.connection import Connection
from redis.exceptions import ResponseError

Arg = str | bytes | int | float
Command = tuple[Arg, ...]


async def send_packed(redis: aioredis.Redis, *commands: Command) -> list[Any]:
    """The replies to ``commands``, in order. An error reply is raised once every reply is read, so the
    connection goes back to the pool clean.

    A dropped connection is disconnected and the whole pipeline sent again under the client's ``Retry``,
    as redis-py does for its own commands: the engine's writes are idempotent (``engine/queue.py``).
    """
    # hiredis' stub types its argument as a 1-tuple; it takes a command of any length
    packed = b"".join(hiredis.pack_command(command) for command in commands)  # type: ignore[arg-type]
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
    finally:
        await pool.release(connection)
    for reply in replies:
        if isinstance(reply, ResponseError):
            raise reply
    return replies
