"""The simulator's one mutable state object, reachable from handlers as ``request.app[STATE]``."""

from __future__ import annotations

import math
import os
import random
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from engine.provider.signer import ReplayCache
from engine.simulator.callbacks import CallbackPoster
from engine.simulator.config import CallbackConfig, Channel, SimConfig
from engine.simulator.ledger import Ledger
from engine.simulator.ratelimit import RateLimiter
from engine.simulator.store import Store
from engine.simulator.wire import SimError


@dataclass
class SimState:
    """Config, ledger, tasks, rate limiter and the seeded random source of one simulator instance."""

    config: SimConfig
    ledger: Ledger = field(default_factory=Ledger)
    store: Store = field(default_factory=Store)
    limiter: RateLimiter = field(default_factory=RateLimiter)
    replays: ReplayCache = field(default_factory=ReplayCache)  # signatures accepted, kept across reset()
    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    poster: CallbackPoster | None = None  # set while the app runs
    rng: random.Random = field(init=False)
    _request_prefix: str = field(default_factory=lambda: os.urandom(4).hex())
    _request_seq: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.config.seed)

    def update_config(self, changes: dict[str, Any]) -> None:
        """Patch the live config (ConfigError leaves it unchanged); a new seed restarts the random source."""
        self.config.update(changes)
        if "seed" in changes:
            self.rng.seed(self.config.seed)

    def reset(self) -> None:
        """Clear ledger, tasks and rate state, and restart the random source from the seed."""
        self.ledger.reset()
        self.store.reset()
        self.limiter.reset()
        self.rng.seed(self.config.seed)

    def admit(self, channel: Channel, numbers: int) -> None:
        """Charge ``numbers`` to the channel's rate; over it, count and raise HTTP 429 with Retry-After."""
        wait = self.limiter.charge(self.config.rates, channel, numbers)
        if wait > 0:
            self.ledger.throttled[channel] += 1
            headers = {"Retry-After": str(max(1, math.ceil(wait)))}  # whole seconds, as urllib3 parses it
            raise SimError(
                429, self.config.rates.throttle_code, f"{channel} flow control: too many numbers", headers
            )

    def new_id(self) -> str:
        """A task / batch id; reproducible when the config has a seed."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def next_request_id(self) -> str:
        self._request_seq += 1
        return f"{self._request_prefix}{self._request_seq:012x}"

    def draw_delivery(self, count: int) -> tuple[list[str], float]:
        """Outcome per number (by the configured shares) and the epoch time their reports are due."""
        cfg: CallbackConfig = self.config.callbacks
        outcomes = self.rng.choices(list(cfg.outcomes), weights=list(cfg.outcomes.values()), k=count)
        delay_ms = self.rng.uniform(*cfg.delay_ms)
        return outcomes, time.time() + delay_ms / 1000.0


STATE: web.AppKey[SimState] = web.AppKey("koodispatch_simulator_state", SimState)
