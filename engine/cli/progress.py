"""How far a campaign is, how fast it goes now and when it ends: numbers with an outcome, the rate over a
stated recent window, an ETA from the numbers left. Pure: ``status`` and ``run``/``demo`` feed it reports."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Final

from engine.reports.summary import Report

WATCH_WINDOW: Final = 10.0  # seconds of samples the rate of ``status --watch`` is measured over
ONE_SHOT_WINDOW: Final = 2.0  # seconds a one-shot ``status`` of a running campaign measures over


def numbers_done(r: Report) -> int:
    """Numbers with an outcome: sent on any channel, skipped by the fallback policy, or failed. Counted per
    provider call (≤100 numbers for smart), so it moves number by number, not a batch at a time."""
    return min(r.accepted, sum(r.sent.values()) + r.skipped + r.failed)


@dataclass(frozen=True, slots=True)
class Pace:
    """The rate over what ``over`` says (``last 10 s``; empty: not measured yet) and the seconds left at it
    (None: unknown)."""

    done: int
    total: int
    rate: float
    over: str
    eta: float | None

    def line(self) -> str:
        """``12,345/28,500 numbers  rate 498/s (last 10 s)  ETA 0:00:32`` — fits 80 columns."""
        rate = f"rate {self.rate:,.0f}/s ({self.over})" if self.over else "rate —"
        return f"{self.done:,}/{self.total:,} numbers  {rate}  ETA {clock(self.eta)}"


def ended(r: Report, seconds: float) -> Pace:
    """An ended campaign's pace: its average from submission to its end (a last-seconds rate would show
    only its tail, e.g. the last batch finishing)."""
    done = numbers_done(r)
    rate = done / seconds if seconds > 0 else 0.0
    return Pace(done, r.accepted, rate, f"average over {clock(seconds)}", 0.0)


class RateMeter:
    """Samples of numbers done over time; the rate is the change across the last ``window`` seconds."""

    def __init__(self, window: float = WATCH_WINDOW) -> None:
        self.window = window
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, done: int, at: float | None = None) -> None:
        now = time.monotonic() if at is None else at
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.window:
            self._samples.popleft()  # keep one sample at or beyond the window's start

    def pace(self, r: Report, budget: float = 0.0) -> Pace:
        """The pace now. The ETA divides the numbers left by the measured rate, or, before anything was
        measured, by ``budget``: the rate the campaign's share of the budgets gives it now."""
        done = numbers_done(r)
        span, rate = 0.0, 0.0
        if len(self._samples) >= 2:
            (start, first), (end, last) = self._samples[0], self._samples[-1]
            span = end - start
            rate = (last - first) / span if span > 0 else 0.0
        left = r.accepted - done
        speed = rate or budget
        eta = 0.0 if left == 0 else left / speed if speed > 0 else None
        return Pace(done, r.accepted, rate, f"last {span:.0f} s" if span else "", eta)


def clock(seconds: float | None) -> str:
    """``0:02:05``; ``—`` when unknown (nothing measured, or nothing moving)."""
    if seconds is None:
        return "—"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
