"""The allowed range of every rate and burst, defined once for every way in (invariant 2).

The settings model, ``RateLimiter.set_rate``, ``api.set_rates`` and the ``rate`` command check values here,
and ``store/lua/rate.lua`` receives the same bounds with every run, so a value no entry point accepts is also
one the budget script never stores or trusts. A rate of zero, NaN or infinity had switched the budget off.

Why these bounds:

- rate 0.01 to 1,000,000 numbers per second: below one number per 100 s a channel is stopped in all but
  name (``pause`` says so plainly); above a million the charge of one number (1 µs) nears the resolution of
  an epoch timestamp in a double (0.24 µs), so the budget would stop counting single numbers. A million is
  still a thousand times the provider's documented cap (1,000 smart messages/s) and several times what the
  engine sends end to end (``benchmarks/RESULTS.md``), so budgets "lifted" for tests and benchmarks fit.
- burst 0.01 to 60 seconds of rate: less than 10 ms is below a Redis round trip, so it only serialises
  calls; more than a minute of the cap at once is a flood no provider's per-second window accepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from engine.errors import ConfigError
from engine.types import CHANNELS


@dataclass(frozen=True, slots=True)
class Range:
    """A closed interval of allowed values; NaN and the infinities are never in it."""

    low: float
    high: float
    unit: str

    def problem(self, value: float) -> str | None:
        """Why ``value`` is not allowed, or None when it is: the text every entry point shows."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{value!r} is not a number; allowed: {self}"
        if self.low <= value <= self.high:  # False for NaN
            return None
        return f"{value:.15g} is outside the allowed range of {self}"

    @property
    def span(self) -> str:
        """The bounds for people: 0.01 to 1,000,000 rather than 1e+06 and 0.010000."""
        return f"{_plain(self.low)} to {_plain(self.high)}"

    def __str__(self) -> str:
        return f"{self.span} {self.unit}"


RATE: Final = Range(0.01, 1_000_000.0, "numbers per second")
BURST: Final = Range(0.01, 60.0, "seconds")


def check_rate(channel: str, per_second: float, burst_seconds: float | None = None) -> None:
    """Raise ConfigError naming the channel, the value and its range unless every argument is allowed.

    What a live rate change checks before it writes anything.
    """
    if channel not in CHANNELS:
        raise ConfigError(f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}")
    for name, allowed, value in (("rate", RATE, per_second), ("burst_seconds", BURST, burst_seconds)):
        problem = None if value is None else allowed.problem(value)
        if problem is not None:
            raise ConfigError(f"{name} of channel {channel}: {problem}")


def _plain(bound: float) -> str:
    return f"{bound:,.6f}".rstrip("0").rstrip(".")
