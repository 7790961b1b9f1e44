"""EngineContext: everything a worker needs (settings, Redis, provider clients, limiter), opened once."""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass
from types import TracebackType

import redis.asyncio as aioredis

from engine.budget.contacts import ContactCaps
from engine.budget.limiter import RateLimiter
from engine.budget.retry import RetryPolicy
from engine.provider.http import ProviderHttp
from engine.provider.koomessage import KooMessageClient
from engine.provider.smsapi import SmsApiClient
from engine.resolve.resolver import Resolver
from engine.runtime.settings import Settings
from engine.state.control import StateView
from engine.state.lease import Leases
from engine.store.clock import RedisClock
from engine.store.coalesce import require_replicas
from engine.store.scripts import Scripts


@dataclass
class EngineContext:
    """Opened as ``async with EngineContext.open(settings, redis) as ctx``; closes what it opened."""

    settings: Settings
    redis: aioredis.Redis
    http: ProviderHttp
    koomessage: KooMessageClient
    smsapi: SmsApiClient
    limiter: RateLimiter
    scripts: Scripts
    resolver: Resolver
    retry_policy: RetryPolicy
    states: StateView
    leases: Leases
    contacts: ContactCaps
    clock: RedisClock
    _stack: AsyncExitStack

    @classmethod
    async def open(cls, settings: Settings, redis: aioredis.Redis) -> EngineContext:
        """Build the context on an existing Redis client (the arq pool in workers)."""
        # a call's in_flight mark reaches the replicas a failover could promote before the call is made
        require_replicas(redis, settings.replicas_to_ack, settings.redis.replica_ack_timeout)
        stack = AsyncExitStack()
        http = await stack.enter_async_context(ProviderHttp(settings))
        koomessage = KooMessageClient.from_settings(http, settings)
        smsapi = SmsApiClient.from_settings(http, settings)
        # a slot of a dead worker must outlive any call it could still be making
        limiter = RateLimiter(redis, settings.rates, lease_seconds=settings.provider.call_lifetime)
        await limiter.ensure_defaults()
        stack.push_async_callback(limiter.close)
        scripts = Scripts(redis)
        d = settings.dispatch
        policy = RetryPolicy(d.retry_base_delay, d.retry_max_delay, d.outage_pause_after)
        resolver = Resolver(redis, scripts, koomessage, limiter, policy, settings.resolver.cache_ttl_hours)
        clock = RedisClock()
        await clock.sync(redis)
        states = StateView(redis, clock=clock.utc)
        leases = Leases(redis, d.lease_seconds)
        return cls(
            settings,
            redis,
            http,
            koomessage,
            smsapi,
            limiter,
            scripts,
            resolver,
            policy,
            states,
            leases,
            ContactCaps(redis, settings.contacts),
            clock,
            stack,
        )

    async def close(self) -> None:
        await self._stack.aclose()

    async def __aenter__(self) -> EngineContext:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
