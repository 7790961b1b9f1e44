"""Prometheus metrics of a worker process: one registry, its metric objects, and one-line recorders.

Metrics are process-wide by nature (every batch a process runs adds to the same counters), so they live
here as module objects in a registry of our own, not the library's global one, and ``serve`` exposes only
them. Labels stay low-cardinality — channel, error class, provider code, outcome reason, batch result —
never a campaign id or a number.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from engine.errors import ProviderError

REGISTRY: Final = CollectorRegistry()

SENT: Final = Counter(
    "koodispatch_sent_numbers", "Numbers the provider accepted, per channel", ["channel"], registry=REGISTRY
)
FAILED: Final = Counter(
    "koodispatch_failed_numbers",
    "Numbers recorded as failed, per channel and outcome reason",
    ["channel", "reason"],
    registry=REGISTRY,
)
CALLS: Final = Counter(
    "koodispatch_provider_calls", "Provider calls made, every attempt counted", ["channel"], registry=REGISTRY
)
ERRORS: Final = Counter(
    "koodispatch_provider_errors",
    "Provider calls that ended in an error, by error class and provider code (or HTTP status)",
    ["channel", "error", "code"],
    registry=REGISTRY,
)
IN_FLIGHT: Final = Gauge(
    "koodispatch_provider_calls_in_flight",
    "Provider calls of this process waiting for their answer",
    ["channel"],
    registry=REGISTRY,
)
RATE_WAIT: Final = Histogram(
    "koodispatch_rate_wait_seconds",
    "Waits of a call for its channel's shared budget (budget) or a free in-flight slot (slot)",
    ["channel", "kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
BATCH_SECONDS: Final = Histogram(
    "koodispatch_batch_duration_seconds",
    "Wall time of one batch job run, by result (finished, halted:<state>, window, busy ...)",
    ["result"],
    buckets=(0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0),
    registry=REGISTRY,
)


def serve(port: int, host: str = "127.0.0.1") -> None:
    """Expose the registry at ``http://host:port/metrics`` from a daemon thread, off the event loop.

    Loopback by default: the endpoint has no authentication, so reaching it from elsewhere is a choice made
    with ``--metrics-host`` (behind a firewall or a scraping proxy). Raises OSError when the address is taken.
    """
    start_http_server(port, addr=host, registry=REGISTRY)


class _ProviderCall:
    """Counts one provider call and holds it in the in-flight gauge while it runs.

    Keeps no state of its own between enter and exit, so one per channel serves every call (a generator
    context manager per call cost more than the two metrics it updates).
    """

    __slots__ = ("_calls", "_in_flight")

    def __init__(self, channel: str) -> None:
        # the labelled children: ``labels`` takes a lock and builds a key on every use
        self._calls = CALLS.labels(channel)
        self._in_flight = IN_FLIGHT.labels(channel)

    def __enter__(self) -> None:
        self._calls.inc()
        self._in_flight.inc()

    def __exit__(self, *_: object) -> None:
        self._in_flight.dec()


@functools.cache
def provider_call(channel: str) -> _ProviderCall:
    """``with provider_call(channel):`` around one provider call."""
    return _ProviderCall(channel)


def provider_error(channel: str, error: ProviderError) -> None:
    """Count a failed provider call by its error class and code."""
    code = error.provider_code or (str(error.code) if error.code else "")
    ERRORS.labels(channel, type(error).__name__, code).inc()


def recorded(channel: str, accepted: int, reasons: Iterable[str]) -> None:
    """Count the outcome of one journaled call (numbers accepted, a reason per failed number), once."""
    if accepted:
        SENT.labels(channel).inc(accepted)
    for reason in reasons:
        FAILED.labels(channel, reason).inc()


def rate_waited(channel: str, kind: str, seconds: float) -> None:
    """Record one wait for the rate budget (``budget``) or an in-flight slot (``slot``)."""
    RATE_WAIT.labels(channel, kind).observe(seconds)


def batch_finished(result: str, seconds: float) -> None:
    """Record the duration of one batch job run."""
    BATCH_SECONDS.labels(result).observe(seconds)
