"""Per-channel admission by numbers per second (GCRA), as the provider's flow control would apply it."""

from __future__ import annotations

import time

from engine.simulator.config import RATE_CHANNELS, Channel, RateConfig

EPSILON = 1e-9  # seconds


class RateLimiter:
    """One theoretical-arrival time per channel; rates are read from the live config on every charge.

    A call of ``n`` numbers is admitted when, after adding ``n / rate`` seconds of work, the backlog is at
    most ``burst_seconds`` (or at most the call itself, so an idle channel always admits one large call).
    """

    def __init__(self) -> None:
        self._tat: dict[Channel, float] = dict.fromkeys(RATE_CHANNELS, 0.0)

    def charge(self, rates: RateConfig, channel: Channel, numbers: int, now: float | None = None) -> float:
        """Admit and charge ``numbers``; return 0.0, or the seconds to wait when the call is throttled."""
        rate = rates.rate(channel)
        if rate is None or numbers <= 0:
            return 0.0
        moment = time.monotonic() if now is None else now
        cost = numbers / rate
        new_tat = max(self._tat[channel], moment) + cost
        excess = new_tat - moment - max(rates.burst_seconds, cost)
        if excess > EPSILON:  # float rounding must not reject a call that exactly fits an idle channel
            return excess
        self._tat[channel] = new_tat
        return 0.0

    def reset(self) -> None:
        """Forget past charges (every channel idle)."""
        for channel in self._tat:
            self._tat[channel] = 0.0
