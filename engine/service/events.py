"""Live events for Server-Sent Events: one poller per watched topic, fanned out to every watcher.

A topic is one campaign or the whole list. Its poller reads Redis once per tick whatever the number of
watchers (200 browsers on one campaign cost one read a second), and stops when the last watcher leaves.
Every event is a snapshot (progress per stage, rate, state), so a client that reconnects with
``Last-Event-ID`` loses nothing: it is sent the current snapshot at once, then every tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import orjson
import redis.asyncio as aioredis

from engine.state import history
from engine.state.progress import counters

TICK: Final = 0.5  # seconds between reads of a topic: an update reaches a watcher within a second
QUEUE_DEPTH: Final = 16  # events kept for a slow watcher; beyond, its oldest are dropped (snapshots)
LIST_TOPIC: Final = ""
STAGES: Final = ("capable", "not_capable", "sent:smart", "sent:sms", "sent:basic", "skipped", "failed")


@dataclass(frozen=True, slots=True)
class Event:
    """One SSE event: ``id`` grows with time (milliseconds), ``kind`` is its SSE event name."""

    id: int
    kind: str
    data: dict[str, Any]

    def encode(self) -> bytes:
        return b"id: %d\nevent: %s\ndata: %s\n\n" % (self.id, self.kind.encode(), orjson.dumps(self.data))


Snapshot = Callable[[aioredis.Redis, str], Awaitable[list[tuple[str, dict[str, Any]]]]]


@dataclass
class _Topic:
    watchers: set[asyncio.Queue[Event]] = field(default_factory=set)
    last: dict[str, Event] = field(default_factory=dict)  # per key (campaign), the latest event
    task: asyncio.Task[None] | None = None


class Hub:
    """Topics being watched, each with its poller task."""

    def __init__(self, redis: aioredis.Redis, tick: float = TICK) -> None:
        self.redis = redis
        self.tick = tick
        self._topics: dict[str, _Topic] = {}
        self._clock = 0

    @contextlib.asynccontextmanager
    async def watch(self, topic: str) -> AsyncIterator[asyncio.Queue[Event]]:
        """A queue of the topic's events (``LIST_TOPIC`` or a campaign id), starting with the latest."""
        entry = self._topics.setdefault(topic, _Topic())
        queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_DEPTH)
        for event in entry.last.values():
            _offer(queue, event)
        entry.watchers.add(queue)
        if entry.task is None:
            entry.task = asyncio.get_running_loop().create_task(self._poll(topic, entry))
        try:
            yield queue
        finally:
            entry.watchers.discard(queue)
            if not entry.watchers and entry.task is not None:
                entry.task.cancel()
                self._topics.pop(topic, None)  # already gone when the hub closed first

    async def _poll(self, topic: str, entry: _Topic) -> None:
        snapshot = list_snapshot if topic == LIST_TOPIC else campaign_snapshot
        previous: dict[str, dict[str, Any]] = {}
        while True:
            for key, data in await snapshot(self.redis, topic):
                before = previous.get(key)
                if topic != LIST_TOPIC or before != data:  # the list sends a campaign only when it changed
                    rate = _rate(before, data, self.tick)
                    self._publish(entry, key, Event(self._next_id(), "progress", {**data, **rate}))
                if before is not None and before["state"] != data["state"]:
                    self._publish(entry, key, Event(self._next_id(), "state", {
                        "campaign": key, "state": data["state"], "previous": before["state"],
                        "reason": data["reason"]}))  # fmt: skip
                previous[key] = data
            await asyncio.sleep(self.tick)

    def _publish(self, entry: _Topic, key: str, event: Event) -> None:
        entry.last[key] = event
        for queue in entry.watchers:
            _offer(queue, event)

    def _next_id(self) -> int:
        self._clock = max(self._clock + 1, time.time_ns() // 1_000_000)
        return self._clock

    async def close(self) -> None:
        tasks = [t.task for t in self._topics.values() if t.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._topics.clear()


def _offer(queue: asyncio.Queue[Event], event: Event) -> None:
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(event)


def _rate(before: dict[str, Any] | None, now: dict[str, Any], tick: float) -> dict[str, float]:
    """Numbers sent per second since the previous snapshot."""
    if before is None:
        return {"rate": 0.0}
    return {"rate": round(max(0, now["sent"] - before["sent"]) / tick, 1)}


async def campaign_snapshot(redis: aioredis.Redis, cid: str) -> list[tuple[str, dict[str, Any]]]:
    """The campaign's state and progress per stage; nothing when it is unknown."""
    row = await history.row(redis, cid)
    if row is None:
        return []
    c = await counters(redis, cid)
    return [(cid, {**asdict(row), "stages": {stage: c.get(stage, 0) for stage in STAGES}})]


async def list_snapshot(redis: aioredis.Redis, _: str) -> list[tuple[str, dict[str, Any]]]:
    """The first page of the list (newest first), one entry per campaign."""
    return [(row.cid, asdict(row)) for row in await history.rows(redis, limit=100)]
