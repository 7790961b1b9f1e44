"""Resolver: the capability verdict of every number of a batch, from the shared cache or the provider.

Verdicts are frozen per batch (one byte per number) the first time they are known, so a batch that is
resumed or taken over sends to exactly the same split of smart and fallback numbers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from itertools import repeat

import redis.asyncio as aioredis

from engine.budget.limiter import RateLimiter
from engine.budget.records import ANONYMOUS, Caller
from engine.budget.retry import RetryPolicy, call_with_retry
from engine.provider.koomessage import KooMessageClient
from engine.provider.limits import CAPABILITY_MAX_MOBILES
from engine.provider.models import CapabilityResult
from engine.resolve.capability_cache import CapabilityCache
from engine.state.records import Verdict
from engine.store import keys
from engine.store.scripts import Scripts

# Verdicts written to the cache together (one HSET per write instead of one per 100-number check); a crash
# loses at most this many verdicts, which are then checked again.
REMEMBER_AFTER = 2500
# Capability checks of one batch in flight at once (the channel's shared in-flight cap bounds the total):
# one after another, a 5000-number batch spends 50 round trips resolving before its first send.
CHECKS_IN_PARALLEL = 8
CAPABLE, NOT_CAPABLE = Verdict.CAPABLE.value, Verdict.NOT_CAPABLE.value


class Resolver:
    """Classifies numbers as capable / not capable / invalid, ≤100 per provider call."""

    def __init__(
        self,
        redis: aioredis.Redis,
        scripts: Scripts,
        client: KooMessageClient,
        limiter: RateLimiter,
        policy: RetryPolicy,
        cache_ttl_hours: float,
    ) -> None:
        self.redis = redis
        self.scripts = scripts
        self.client = client
        self.limiter = limiter
        self.policy = policy
        self.cache = CapabilityCache(redis, cache_ttl_hours * 3600)

    async def verdicts(
        self,
        cid: str,
        batch: int,
        numbers: Sequence[str],
        tpl_id: str | None,
        checkpoint: Callable[[], Awaitable[None]],
        caller: Caller = ANONYMOUS,
    ) -> str:
        """The frozen verdict string of a batch (``verdicts[i]`` belongs to ``numbers[i]``); its checks are
        made as ``caller`` (the batch's lease and place in line)."""
        frozen = await self.redis.get(keys.verdicts(cid, batch))
        if frozen is not None:
            return bytes(frozen).decode()
        known = await self.classify(numbers, tpl_id, checkpoint, caller=caller)
        invalid = Verdict.INVALID.value  # unanswered numbers count as invalid
        return await self.freeze(cid, batch, "".join(map(known.get, numbers, repeat(invalid))))

    async def freeze(self, cid: str, batch: int, text: str) -> str:
        """Freeze ``text`` as the batch's verdicts and count them, unless frozen already (first wins);
        returns the frozen string. A fallback-only campaign freezes every number not capable, unasked."""
        tally = {v: text.count(v.value) for v in Verdict}
        frozen = await self.scripts.freeze_verdicts(
            keys=[keys.verdicts(cid, batch), keys.counters(cid)],
            args=[text, tally[Verdict.CAPABLE], tally[Verdict.NOT_CAPABLE], tally[Verdict.INVALID]],
        )
        return frozen.decode() if isinstance(frozen, bytes) else str(frozen)

    async def classify(
        self,
        numbers: Sequence[str],
        tpl_id: str | None,
        checkpoint: Callable[[], Awaitable[None]],
        *,
        check: bool = True,
        caller: Caller = ANONYMOUS,
    ) -> dict[str, str]:
        """Verdicts from the shared cache and, with ``check``, from the provider for the rest (≤100 per
        call, remembered in the cache). Numbers the provider did not answer for are absent; nothing is
        frozen, so ``koodispatch plan`` can use it without touching a campaign."""
        known = await self.cache.get(numbers)
        if not check:
            return known
        unknown = [n for n in numbers if n not in known]
        found: dict[str, list[str]] = {CAPABLE: [], NOT_CAPABLE: []}  # the provider's verdicts, by verdict
        saved = dict.fromkeys(found, 0)  # how many of each list are in the cache already
        gate = asyncio.Semaphore(CHECKS_IN_PARALLEL)

        async def remember(at_least: int) -> None:
            """Write the verdicts not in the cache yet once there are ``at_least`` of them; marked written
            before the await, so no other check writes them too."""
            if sum(len(got) - saved[verdict] for verdict, got in found.items()) < at_least:
                return
            fresh = {verdict: got[saved[verdict] :] for verdict, got in found.items()}
            saved.update((verdict, len(got)) for verdict, got in found.items())
            await self.cache.put(fresh)

        async def one(chunk: list[str]) -> None:
            async with gate:
                result = await self._check(chunk, tpl_id, checkpoint, caller)
            found[CAPABLE] += result.supported
            found[NOT_CAPABLE] += result.unsupported
            await remember(REMEMBER_AFTER)

        try:
            async with asyncio.TaskGroup() as group:
                for start in range(0, len(unknown), CAPABILITY_MAX_MOBILES):
                    group.create_task(one(unknown[start : start + CAPABILITY_MAX_MOBILES]))
        except BaseExceptionGroup as failed:  # a halt or outage surfaces as itself
            raise failed.exceptions[0] from None
        await remember(1)
        for verdict, got in found.items():  # one dict build per verdict, not one update per check
            known.update(dict.fromkeys(got, verdict))
        return known

    async def _check(
        self, chunk: list[str], tpl_id: str | None, checkpoint: Callable[[], Awaitable[None]], caller: Caller
    ) -> CapabilityResult:
        return await call_with_retry(
            lambda: self.client.check_capability(chunk, tpl_id),
            channel="capability",
            count=len(chunk),
            limiter=self.limiter,
            policy=self.policy,
            checkpoint=checkpoint,
            retry_ambiguous=True,  # a capability check changes nothing at the provider
            caller=caller,
        )
