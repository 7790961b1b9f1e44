"""Retrying provider calls through the shared rate budget: backoff with jitter, retry-after, outage limit."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from engine.budget.limiter import RateLimiter
from engine.budget.records import ANONYMOUS, Caller
from engine.errors import Ambiguous, ProviderDown, ProviderError, Throttled, TransientError, Unreplicated
from engine.runtime import metrics
from engine.types import Channel

if TYPE_CHECKING:
    from engine.state.progress import Mark

T = TypeVar("T")
log = logging.getLogger(__name__)
REPLICA_RETRY_SECONDS = 1.0  # most time between admissions whose in_flight mark no replica confirmed


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff ``base * 2**attempt`` capped at ``cap``, full jitter; give up after ``outage`` seconds."""

    base: float
    cap: float
    outage: float

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        backoff = random.uniform(0, min(self.cap, self.base * 2**attempt))
        return max(backoff, retry_after or 0.0)


async def call_with_retry(
    op: Callable[[], Awaitable[T]],
    *,
    channel: Channel,
    count: int,
    limiter: RateLimiter,
    policy: RetryPolicy,
    checkpoint: Callable[[], Awaitable[None]],
    retry_ambiguous: bool = False,
    mark: Mark | None = None,
    caller: Caller = ANONYMOUS,
) -> T:
    """Run ``op`` within the channel's budget, retrying what surely did not land.

    Throttled and ProviderUnavailable are retried (a 429 also slows the shared budget for every worker);
    Ambiguous is retried only for idempotent reads (``retry_ambiguous``), otherwise raised for the caller to
    reconcile. ``checkpoint`` runs right before every admission attempt (the limiter runs it after each
    wait) so pause/cancel stop retries at once; ``mark`` is journaled by the admission of each attempt;
    ``caller`` says whose call it is (the limiter's line and slot tag).
    An admission whose in_flight mark no replica confirmed (Unreplicated: Redis is failing over, or its
    replicas lag) makes no call and is tried again within ``REPLICA_RETRY_SECONDS``, for as long as that
    lasts: it is not a provider outage.
    Raises ProviderDown after ``policy.outage`` seconds of uninterrupted failures, and any TerminalError.
    """
    attempt = unreplicated = 0
    failing_since: float | None = None
    while True:
        await checkpoint()  # do not queue for budget on behalf of a paused or cancelled campaign
        try:
            async with limiter.call(channel, count, mark=mark, checkpoint=checkpoint, caller=caller):
                with metrics.provider_call(channel):
                    return await op()
        except Unreplicated as exc:
            if not unreplicated:
                log.warning("%s call not made: its in_flight mark is not on a replica (%s)", channel, exc)
            unreplicated += 1
            # no provider to spare: ask again soon, so sending resumes as soon as a replica confirms
            await asyncio.sleep(random.uniform(0, REPLICA_RETRY_SECONDS))
        except ProviderError as exc:
            metrics.provider_error(channel, exc)
            if not _retryable(exc, retry_ambiguous):
                raise
            failing_since = failing_since or time.monotonic()
            if time.monotonic() - failing_since > policy.outage:
                raise ProviderDown(
                    f"{channel}: provider failing for over {policy.outage:.0f}s ({exc})"
                ) from exc
            if isinstance(exc, Throttled):
                await limiter.throttled(channel, exc.retry_after)
            delay = policy.delay(attempt, exc.retry_after)
            log.info("%s call failed (%s); retry %d in %.2fs", channel, exc, attempt + 1, delay)
            attempt += 1
            await asyncio.sleep(delay)


def _retryable(exc: ProviderError, retry_ambiguous: bool) -> bool:
    return isinstance(exc, TransientError) or (retry_ambiguous and isinstance(exc, Ambiguous))
