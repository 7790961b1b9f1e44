"""Auto-pipelining of the hot path's Lua scripts: one round trip for many concurrent callers.

Every provider call costs a rate admission before it and journal writes around it. Dozens of chunks are in
flight per worker, and with Redis, round trips (a socket write and read at both ends, an event-loop wakeup)
cost more than the scripts themselves. So one pipeline at a time is out per client: scripts started while
it is out wait for its answer and go together as the next one, and a script started while none is out goes
at the end of its event-loop iteration, with the others started in it. The busier the worker, the more
each round trip carries (six scripts on average in the end-to-end benchmark, where a pipeline per
iteration carried under three); nothing waits for a timer. Each caller still gets its own result or
error, and ordering is kept. Pipelines are packed by hiredis (``engine/store/packed.py``): redis-py's asyncio
pipeline cost ~200 µs of CPU for six scripts, this ~90.

A run may be ``durable``: a provider call's in_flight mark, which a failover must not lose (replication is
asynchronous). With replicas required (:func:`require_replicas`), a pipeline carrying one ends with ``WAIT
<replicas> <timeout>`` on its connection: once it answers, every write of the pipeline is on that many
replicas, and Sentinel promotes a replica that holds it. If fewer confirm in time, each durable run raises
Unreplicated (its script did run: the caller makes no call and asks again), and the connection is dropped,
so the next one asks the sentinels where the primary is: a primary cut off from its replicas is often one
the sentinels replaced. Without replicas required nothing changes (no WAIT is sent).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from engine.errors import Unreplicated
from engine.store.packed import Arg, send_packed


@dataclass(slots=True)
class _Call:
    script: AsyncScript
    keys: Sequence[str]
    args: Sequence[Arg]
    future: asyncio.Future[Any]
    durable: bool


class Coalescer:
    """Queues script runs and sends them as pipelines, one in flight at a time."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._queued: list[_Call] = []
        self._sending: asyncio.Future[None] | None = None
        self.replicas = 0  # replicas a durable run must reach (require_replicas)
        self.wait_ms = 0

    async def run(
        self, script: AsyncScript, keys: Sequence[str], args: Sequence[Arg], durable: bool = False
    ) -> Any:
        """The script's result, as ``script(keys=keys, args=args)`` would return it (or its error); a
        ``durable`` one raises Unreplicated when too few replicas confirmed its writes in time."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queued.append(_Call(script, keys, args, future, durable and self.replicas > 0))
        if len(self._queued) == 1 and self._sending is None:
            loop.call_soon(self._send_queued)
        return await future

    def _send_queued(self) -> None:
        if self._sending is not None or not self._queued:
            return
        calls, self._queued = self._queued, []
        self._sending = asyncio.ensure_future(self._send(calls))
        self._sending.add_done_callback(self._sent)

    def _sent(self, _: asyncio.Future[None]) -> None:
        self._sending = None
        self._send_queued()  # what was queued meanwhile goes out as the next pipeline

    async def _send(self, calls: list[_Call]) -> None:
        try:
            results = await self._loading_scripts(calls, await self._execute(calls))
        except Exception as exc:  # Redis unreachable: every caller sees the error
            for call in calls:
                _settle(call.future, exc)
            return
        for call, result in zip(calls, results, strict=True):
            _settle(call.future, result)

    async def _loading_scripts(self, calls: list[_Call], results: list[Any]) -> list[Any]:
        """``results``, with the calls whose script Redis did not have (it restarted, failed over or flushed
        its scripts) run again once their scripts are loaded."""
        missing = [i for i, result in enumerate(results) if isinstance(result, NoScriptError)]
        if not missing:
            return results
        for script in {calls[i].script.sha: calls[i].script for i in missing}.values():
            await self.redis.script_load(script.script)
        merged = list(results)
        for i, result in zip(missing, await self._execute([calls[i] for i in missing]), strict=True):
            merged[i] = result
        return merged

    async def _execute(self, calls: list[_Call]) -> list[Any]:
        durable = any(call.durable for call in calls)
        if len(calls) == 1 and not durable:
            only = calls[0]
            try:
                return [await only.script(keys=only.keys, args=only.args)]
            except Exception as exc:
                return [exc]
        commands = [("EVALSHA", call.script.sha, len(call.keys), *call.keys, *call.args) for call in calls]
        if not durable:
            return await send_packed(self.redis, *commands, raise_on_error=False)
        wait = ("WAIT", self.replicas, self.wait_ms)
        *results, acked = await send_packed(
            self.redis,
            *commands,
            wait,
            raise_on_error=False,
            stale=lambda replies: not self._enough(replies[-1]),
        )
        if self._enough(acked):
            return results
        refused = Unreplicated(f"{acked} of {self.replicas} replica(s) confirmed within {self.wait_ms} ms")
        return [
            refused if call.durable and not isinstance(r, Exception) else r
            for call, r in zip(calls, results, strict=True)
        ]

    def _enough(self, acked: object) -> bool:
        """Whether WAIT's answer ``acked`` counts the replicas required."""
        return isinstance(acked, int) and acked >= self.replicas


def _settle(future: asyncio.Future[Any], result: Any) -> None:
    if future.done():  # the caller was cancelled meanwhile
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)


_COALESCERS: weakref.WeakKeyDictionary[aioredis.Redis, Coalescer] = weakref.WeakKeyDictionary()


def _coalescer(redis: aioredis.Redis) -> Coalescer:
    coalescer = _COALESCERS.get(redis)
    if coalescer is None:
        coalescer = _COALESCERS[redis] = Coalescer(redis)
    return coalescer


def require_replicas(redis: aioredis.Redis, replicas: int, timeout: float) -> None:
    """Durable runs on ``redis`` must reach ``replicas`` replicas within ``timeout`` seconds (0: no wait)."""
    coalescer = _coalescer(redis)
    coalescer.replicas, coalescer.wait_ms = replicas, max(1, round(timeout * 1000))


class CoalescedScript:
    """A registered script whose runs share pipelines with every other coalesced script on its client."""

    def __init__(self, redis: aioredis.Redis, script: AsyncScript) -> None:
        self._coalescer = _coalescer(redis)
        self.script = script

    async def __call__(
        self, keys: Sequence[str] = (), args: Sequence[Arg] = (), durable: bool = False
    ) -> Any:
        return await self._coalescer.run(self.script, keys, args, durable)
