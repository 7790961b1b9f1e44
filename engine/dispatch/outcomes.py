"""What a batch job or a late-fallback job ended with, as the worker's job functions decide on it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from engine.types import CampaignState


class JobResult(StrEnum):
    """How one run of a job ended; the arq job function re-queues, schedules or reports by it."""

    FINISHED = "finished"  # every chunk of the batch (or its late stage) is final
    BUSY = "busy"  # another worker holds the batch's lease: try again shortly, the holder may be dead
    WINDOW = "window"  # the send window is closed: run again when it opens
    LEASE_LOST = "lease_lost"  # this worker stalled past its lease: a successor continues the batch
    PROVIDER_DOWN = "provider_down"  # the provider failed past the outage limit: the campaign was paused
    HALTED = "halted"  # the campaign is paused, cancelled or over: nothing more to send now
    POSTPONED = "postponed"  # a late fallback met an outage or lost its lease: it runs again later


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """One run of a batch job: its result and the campaign's state after it.

    ``retry_in`` is set with ``WINDOW``: the seconds until the send window opens. ``settle_at`` (unix
    seconds) is when the batch's earliest plain-SMS chunk awaiting its status reports is due: the job
    schedules the settle job for it (``engine/dispatch/settle.py``).
    """

    cid: str
    batch: int
    result: JobResult
    campaign_state: CampaignState | None = None
    retry_in: float | None = None
    settle_at: float | None = None


@dataclass(frozen=True, slots=True)
class LateOutcome:
    """One run of a late-fallback job: its result, the numbers it covers; ``retry`` runs it again later,
    ``retry_in`` that many seconds later (reports still being recorded); ``settle_at`` as in
    :class:`BatchOutcome`."""

    result: JobResult
    numbers: int = 0
    retry: bool = False
    settle_at: float | None = None
    retry_in: float | None = None
