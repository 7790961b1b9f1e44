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
from engine.state.history import CampaignRow
from engine.store import keys

TICK: Final = 0.5  # seconds between reads of a topic: an update reaches a watcher within a second
QUEUE_DEPTH: Final = 16  # events kept for a slow watcher; beyond, its oldest are dropped (snapshots)
LIST_TOPIC: Final = ""
CACHE_SECONDS: Final = 0.25  # how old a status answer may be (the events tick is twice that)
CACHE_ENTRIES: Final = 10_000
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
    last: dict[str, Event] = field(default_factory=dict)  # per key (campaign), the latest progress
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
                now, was = data["campaign"], before and before["campaign"]
                if was and was["state"] != now["state"]:
                    self._publish(entry, key, Event(self._next_id(), "state", {
                        "campaign": key, "state": now["state"], "previous": was["state"],
                        "reason": now["reason"]}))  # fmt: skip
                previous[key] = data
            await asyncio.sleep(self.tick)

    def _publish(self, entry: _Topic, key: str, event: Event) -> None:
        if event.kind == "progress":  # the snapshot a new watcher starts from
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
    sent = now["campaign"]["sent"] - before["campaign"]["sent"]
    return {"rate": round(max(0, sent) / tick, 1)}


@dataclass(frozen=True, slots=True)
class Progress:
    """A campaign's row and its counts per stage: what the status answer and every event carry."""

    campaign: CampaignRow
    stages: dict[str, int]


async def progress(redis: aioredis.Redis, cid: str) -> Progress | None:
    """The campaign's progress in two round trips (no spec, no journal); None when it is unknown."""
    row = await history.row(redis, cid)
    if row is None:
        return None
    found = await redis.hmget(keys.counters(cid), list(STAGES))  # type: ignore[misc]
    return Progress(row, {stage: int(value or 0) for stage, value in zip(STAGES, found, strict=True)})


class ProgressCache:
    """Progress read at most once per ``ttl`` per campaign in this process: a poll endpoint hit hundreds of
    times a second (dashboards, scripts) costs Redis a few reads a second, answers at most ``ttl`` old."""

    def __init__(self, redis: aioredis.Redis, ttl: float = CACHE_SECONDS) -> None:
        self.redis = redis
        self.ttl = ttl
        self._found: dict[str, tuple[float, Progress]] = {}

    async def get(self, cid: str) -> Progress | None:
        now = time.monotonic()
        hit = self._found.get(cid)
        if hit is not None and hit[0] > now:
            return hit[1]
        found = await progress(self.redis, cid)
        if found is not None:  # only known campaigns: unknown ids must not grow the cache
            if len(self._found) >= CACHE_ENTRIES:
                self._found.clear()
            self._found[cid] = (now + self.ttl, found)
        return found


async def campaign_snapshot(redis: aioredis.Redis, cid: str) -> list[tuple[str, dict[str, Any]]]:
    """The campaign's progress; nothing when it is unknown."""
    found = await progress(redis, cid)
    return [] if found is None else [(cid, asdict(found))]


async def list_snapshot(redis: aioredis.Redis, _: str) -> list[tuple[str, dict[str, Any]]]:
    """The first page of the list (newest first), one entry per campaign."""
    return [(row.cid, {"campaign": asdict(row)}) for row in await history.rows(redis, limit=100)]
