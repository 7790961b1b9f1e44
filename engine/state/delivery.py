"""Delivery outcomes by batch position: one byte per number and channel, each status named once per campaign.

A status report used to be a hash field ``<channel>:<number>`` holding JSON: ~133 bytes a number, the number
in clear. A batch is frozen, so a number's position in it is known: its outcome is one byte at that position
of a string per (batch, channel) — 0 no receipt yet, 1 delivered, 2–254 an undelivered status named in the
campaign's status table (``keys.statuses``), 255 any status past the 253rd. Written by
``record_receipts.lua`` (first receipt wins), read here by late fallback and the failed-number export.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal

import redis.asyncio as aioredis

from engine.store import keys
from engine.store.scripts import load_script

NONE: Final = 0
DELIVERED: Final = 1
OTHER: Final = 255
OTHER_STATUS: Final = "OTHER"
Kind = Literal["delivery", "resolve"]
# (batch position, status) of one receipt; status "" when delivered (or resolved)
Entry = tuple[int, str]


class OutcomeWriter:
    """Records receipts of one batch and channel in one script run; the script registered once."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._record = load_script(redis, "record_receipts")

    async def record(self, cid: str, batch: int, channel: str, kind: Kind, entries: Sequence[Entry]) -> int:
        """How many entries were new (the rest had an outcome); -1 when the batch does not exist (never
        frozen, or purged): nothing is written then."""
        outcome = keys.resolved(cid, batch) if kind == "resolve" else keys.delivery(cid, batch, channel)
        args: list[str | int] = [channel, "resolved" if kind == "resolve" else "delivered"]
        for position, status in entries:
            args += [position, status]
        names = [outcome, keys.counters(cid), keys.statuses(cid), keys.batch(cid, batch)]
        return int(await self._record(keys=names, args=args))


async def outcomes(redis: aioredis.Redis, cid: str, batch: int, channel: str) -> bytes:
    """The batch's outcome bytes on ``channel`` (shorter than the batch, or empty, where none came yet)."""
    raw: bytes | None = await redis.get(keys.delivery(cid, batch, channel))
    return raw or b""


async def status_names(redis: aioredis.Redis, cid: str) -> dict[int, str]:
    """Code -> undelivered status of a campaign's outcome bytes."""
    raw: dict[bytes, bytes] = await redis.hgetall(keys.statuses(cid))  # type: ignore[misc]
    return {int(code): status.decode() for status, code in raw.items()} | {OTHER: OTHER_STATUS}


def undelivered(raw: bytes, names: dict[int, str]) -> dict[int, str]:
    """Batch position -> status of every undelivered outcome in ``raw``."""
    return {position: names.get(code, OTHER_STATUS) for position, code in enumerate(raw) if code > DELIVERED}


def delivered_positions(raw: bytes) -> list[int]:
    """Batch positions whose outcome in ``raw`` says delivered."""
    return [position for position, code in enumerate(raw) if code == DELIVERED]


def reported(raw: bytes, position: int) -> bool:
    """Whether any outcome (delivered or not) is recorded at ``position``."""
    return position < len(raw) and raw[position] != NONE


def delivered(raw: bytes, position: int) -> bool:
    """Whether the outcome at ``position`` says delivered."""
    return position < len(raw) and raw[position] == DELIVERED
