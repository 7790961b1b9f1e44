"""The budget layer's records: who asks the limiter for a call (:class:`Caller`), what a budget is now.

A caller is passed down explicitly (dispatcher → retry → limiter) rather than read from context variables
deep in the call chain, so every input of an admission is visible at its call site.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from engine.types import Channel

Order = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Caller:
    """``lease_token``: the batch lease the call is made under ("" for none). The limiter tags the call's
    in-flight slot with it, so the run that takes a dead holder's batch over frees its slots at once.

    ``order``: where the call stands in its process's line for a channel's budget, lower first. A batch job
    passes (its place in the queue, its start time), so a worker's first batch gets the budget first and
    moves on to its next stage first; shared evenly, every batch of a worker finished its smart stage at the
    same moment and the smart budget stayed idle while they all sent their SMS.

    ``tenant``: the campaign the call is made for ("" for none). Campaigns sending at once share a
    channel's budget by class and weight, within their own caps (``store/lua/shares.lua``).
    """

    lease_token: str = ""
    order: Order = (0.0, 0.0)
    tenant: str = ""


ANONYMOUS: Final = Caller()  # a call outside any batch (``koodispatch plan``'s checks, tests): first in line


@dataclass(frozen=True)
class RateInfo:
    """A channel's budget as every worker sees it now; what ``koodispatch status`` shows."""

    channel: Channel
    rate: float  # configured numbers per second (the live setting)
    effective: float  # numbers per second admitted now: rate × factor
    factor: float  # 1.0 = full rate; lower while recovering from throttling
    burst_seconds: float  # seconds of the effective rate that may be spent at once
    backlog: float  # seconds until the numbers already admitted are paid for at the effective rate
    in_flight: int  # provider calls holding a live slot
