"""What the receipts service counted: totals in Redis for operators, one log line per interval for humans.

A flood of receipts (or of refused requests) must not become a flood of log lines: nothing is logged per
receipt or per request; every ``interval`` seconds one line sums what happened, if anything did.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable

import redis.asyncio as aioredis

from engine.store import keys

log = logging.getLogger(__name__)


class Tally:
    """Counts into ``kd:receipts:stats`` (totals) and into the current interval (the summary line)."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._interval: Counter[str] = Counter()

    async def count(self, **fields: int) -> None:
        """Add to the totals in Redis and to this interval's counts; zero values are skipped."""
        fields = {name: value for name, value in fields.items() if value}
        if not fields:
            return
        self._interval.update(fields)
        pipe = self.redis.pipeline(transaction=False)
        for name, value in fields.items():
            pipe.hincrby(keys.RECEIPT_STATS, name, value)
        await pipe.execute()

    def note(self, **fields: int) -> None:
        """Add to this interval's counts only (what Redis need not keep, e.g. connections closed)."""
        self._interval.update({name: value for name, value in fields.items() if value})

    def summary(self) -> str | None:
        """This interval's counts as one line (and a new interval), or None when nothing happened."""
        counts, self._interval = self._interval, Counter()
        if not counts:
            return None
        return ", ".join(f"{name} {value}" for name, value in sorted(counts.items()))

    async def run(self, interval: float, gauge: Callable[[], str]) -> None:
        """Log one summary line (and ``gauge()``, the state now) every ``interval`` seconds while anything
        was counted, until cancelled; a last line on the way out."""
        try:
            while True:
                await asyncio.sleep(interval)
                self.flush(interval, gauge)
        finally:
            self.flush(interval, gauge)

    def flush(self, interval: float, gauge: Callable[[], str]) -> None:
        line = self.summary()
        if line is not None:
            log.info("receipts in the last %gs: %s; %s", interval, line, gauge())
