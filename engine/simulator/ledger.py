"""The ledger of every number the simulator accepted, per channel, plus call and fault counters.

It is what tests and benchmarks read to prove "exactly once": ``duplicates`` counts numbers accepted more
than once on a channel. Recording keeps the call's list of numbers next to its references (task id, task
name, extend, exdata), once per accepted call and nothing per number: in benchmarks the simulator shares
the cores with the engine it measures. The unique numbers are gathered when the ledger is read (only the
calls recorded since the last read), the counts per number when first asked for after a change. Per campaign
(the first part of a call's reference) it keeps the first and last acceptance time as it records, so a
benchmark can time a campaign to the millisecond by the provider's clock rather than by its own polling;
each call also keeps when it arrived (before the injected latency), so a benchmark can tell the calls made
after a moment (a pause) from those already in flight then.
"""

from __future__ import annotations

import time
from collections import Counter
from contextvars import ContextVar
from itertools import chain
from operator import itemgetter
from typing import Any

from engine.simulator.config import CHANNELS, LEDGER_CHANNELS, Channel

FAULT_KINDS = ("outage", "drop", "error", "timeout", "drop_after_accept")
# when the call being handled arrived (epoch seconds), set by the fault middleware before any latency
RECEIVED: ContextVar[float | None] = ContextVar("received", default=None)


def campaign_of(reference: dict[str, str]) -> str:
    """The campaign a call belongs to: the first part of its reference (``<cid>:<batch>:<stage>:<k>``)."""
    ref = reference.get("task_name") or reference.get("extend") or reference.get("exdata") or ""
    return ref.partition(":")[0]


class CampaignTally:
    """One campaign's acceptances on one channel: counted and timed when recorded, its distinct numbers
    gathered when read (as :meth:`ChannelLedger.unique` does for the channel)."""

    __slots__ = ("accepted", "first", "last", "seen")

    def __init__(self, at: float) -> None:
        self.accepted = 0
        self.first = at
        self.last = at
        self.seen: set[str] = set()

    def summary(self) -> dict[str, Any]:
        unique = len(self.seen)
        return {
            "accepted": self.accepted,
            "unique": unique,
            "duplicates": self.accepted - unique,
            "first": self.first,
            "last": self.last,
        }


class ChannelLedger:
    """Numbers accepted on one channel."""

    __slots__ = ("_counts", "_folded", "_seen", "accepted", "entries", "tallies", "times")

    def __init__(self) -> None:
        self.entries: list[tuple[dict[str, str], list[str]]] = []
        self.times: list[tuple[float, float]] = []  # each entry's arrival and acceptance (epoch seconds)
        self.accepted = 0
        self._counts: Counter[str] | None = None
        self._seen: set[str] = set()  # the numbers of entries[:_folded]
        self._folded = 0
        self.tallies: dict[str, CampaignTally] = {}  # per campaign; their ``seen`` also up to _folded

    def record(self, numbers: list[str], reference: dict[str, str]) -> None:
        """Add one accepted call: its normalised numbers and the client's references for it."""
        if not numbers:
            return
        now = time.time()
        self.accepted += len(numbers)
        self.entries.append((reference, numbers))
        self.times.append((RECEIVED.get() or now, now))
        self._counts = None
        cid = campaign_of(reference)
        tally = self.tallies.get(cid)
        if tally is None:
            tally = self.tallies[cid] = CampaignTally(now)
        tally.accepted += len(numbers)
        tally.last = now

    @property
    def counts(self) -> Counter[str]:
        """Acceptances per number, counted from the calls when first asked for after a change."""
        if self._counts is None:
            self._counts = Counter(_numbers(self.entries))
        return self._counts

    def unique(self) -> int:
        """How many distinct numbers were accepted. The calls recorded since the last time asked are added
        to the set then, so a ledger read often (a benchmark samples it every 50 ms) costs no more in all
        than a set kept up to date by every call."""
        new = self.entries[self._folded :]
        self._seen.update(_numbers(new))
        for reference, numbers in new:
            self.tallies[campaign_of(reference)].seen.update(numbers)
        self._folded += len(new)
        return len(self._seen)

    def summary(self) -> dict[str, int]:
        unique = self.unique()
        return {"accepted": self.accepted, "unique": unique, "duplicates": self.accepted - unique}

    def by_campaign(self) -> dict[str, dict[str, int]]:
        """Numbers accepted per campaign per epoch second: the campaign is the client reference's first
        part (``<cid>:<batch>:<stage>:<k>``), so campaigns sending at once can be told apart."""
        out: dict[str, Counter[int]] = {}
        for (reference, numbers), (_, at) in zip(self.entries, self.times, strict=True):
            out.setdefault(campaign_of(reference), Counter())[int(at)] += len(numbers)
        return {cid: {str(s): n for s, n in sorted(per_second.items())} for cid, per_second in out.items()}

    def campaign_totals(self) -> dict[str, dict[str, Any]]:
        """Per campaign: numbers accepted, distinct, duplicates, and the epoch times (float seconds) of its
        first and last accepted call. Costs the calls recorded since the last read, not the whole ledger."""
        self.unique()
        return {cid: tally.summary() for cid, tally in self.tallies.items()}

    def calls_of(self, cid: str) -> list[tuple[float, float, int]]:
        """Every accepted call of campaign ``cid``, in order: when it arrived, when it was accepted (epoch
        seconds) and how many numbers it carried."""
        return [
            (received, at, len(numbers))
            for (reference, numbers), (received, at) in zip(self.entries, self.times, strict=True)
            if campaign_of(reference) == cid
        ]

    def detail(self) -> dict[str, dict[str, Any]]:
        """Per number: how often it was accepted and the references of each accepting call."""
        out: dict[str, dict[str, Any]] = {n: {"count": c, "sends": []} for n, c in self.counts.items()}
        for reference, numbers in self.entries:
            for number in numbers:
                out[number]["sends"].append(reference)
        return out


def _numbers(entries: list[tuple[dict[str, str], list[str]]]) -> chain[str]:
    """Every number of the recorded calls ``entries``, once per acceptance, in the order of the calls."""
    return chain.from_iterable(map(itemgetter(1), entries))


class Ledger:
    """Accepted numbers per channel and counters per channel: calls, throttled, rejected, faults."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything, as after a restart of the provider."""
        self.channels: dict[Channel, ChannelLedger] = {c: ChannelLedger() for c in LEDGER_CHANNELS}
        self.calls: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()
        self.faults: dict[str, Counter[str]] = {kind: Counter() for kind in FAULT_KINDS}
        self.callbacks: Counter[str] = Counter()

    def record(self, channel: Channel, numbers: list[str], reference: dict[str, str]) -> None:
        self.channels[channel].record(numbers, reference)

    def count(self, channel: Channel, number: str) -> int:
        """How many times ``number`` (normalised, 11 digits) was accepted on ``channel``."""
        return self.channels[channel].counts.get(number, 0)

    def snapshot(
        self,
        detail: bool = False,
        channel: str | None = None,
        campaigns: bool = False,
        totals: bool = False,
        calls_of: str | None = None,
    ) -> dict[str, Any]:
        """The JSON answer of ``GET /_simulator/ledger`` (optionally one channel, optionally per number,
        optionally per campaign and second, optionally per campaign in all with its first and last time,
        optionally one campaign's calls with their arrival and acceptance times)."""
        names = [c for c in LEDGER_CHANNELS if channel in (None, c)]
        out: dict[str, Any] = {}
        for name in names:
            out[name] = self.channels[name].summary()
            if detail:
                out[name]["numbers"] = self.channels[name].detail()
            if campaigns:
                out[name]["campaigns"] = self.channels[name].by_campaign()
            if totals:
                out[name]["campaign_totals"] = self.channels[name].campaign_totals()
            if calls_of is not None:
                out[name]["calls_of"] = self.channels[name].calls_of(calls_of)
        out["throttled"] = _per_channel(self.throttled)
        out["rejected"] = _per_channel(self.rejected)
        out["calls"] = _per_channel(self.calls)
        out["faults"] = {kind: _per_channel(counter) for kind, counter in self.faults.items()}
        out["callbacks"] = dict(self.callbacks)
        return out


def _per_channel(counter: Counter[str]) -> dict[str, int]:
    return {c: counter.get(c, 0) for c in CHANNELS}
