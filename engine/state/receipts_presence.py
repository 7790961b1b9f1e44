"""Whether a receipts service records status reports into this Redis now: the heartbeat it keeps.

Plain-SMS calls whose answer was lost can be settled from their status reports only while something
records them, so the workers decide by this observation, not by a setting: a receipts service running
against the same Redis (``koodispatch receipts``; the SMS application's status-report address, or the
``statusCallback`` that ``receipts.public_url`` puts on Message&SMS sends, points at it).
"""

from __future__ import annotations

import time
from typing import Final

import redis.asyncio as aioredis

from engine.store import keys

BEAT_SECONDS: Final = 5.0  # how often a running receipts service says so
ALIVE_SECONDS: Final = 20  # a service silent this long is taken for gone


async def beat(redis: aioredis.Redis) -> None:
    """The receipts service is running (called every ``BEAT_SECONDS``)."""
    await redis.set(keys.RECEIPTS_ALIVE, str(time.time()), ex=ALIVE_SECONDS)


async def receipts_running(redis: aioredis.Redis) -> bool:
    """Whether a receipts service beat within the last ``ALIVE_SECONDS``."""
    return bool(await redis.exists(keys.RECEIPTS_ALIVE))
