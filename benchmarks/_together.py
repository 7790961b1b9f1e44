"""Helpers for programs that send several campaigns at once: submit each with its ``[budget]``, watch their
states, and judge each by its own entries in the simulator's ledger (``?totals=1``: per campaign, distinct
and duplicate numbers and the provider-side time of its first and last accepted call).

The ledger is the judge: a campaign's timing is read from the provider's clock, not from our polling, and
each campaign must have got exactly its own numbers, whatever the others did.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from _common import Dataset, bench_spec, dataset
from _sim import POLL_SECONDS, Expected, check_alive, dataset_split, sim_call, submit
from arq.connections import ArqRedis
from cap_utilisation import LATENCY_MS, provider_caps

from engine import api
from engine.runtime.settings import RateSettings
from engine.store import keys
from engine.types import TERMINAL, CampaignState

CHANNELS: Final = ("smart", "sms")
MIN_ROWS: Final = 20  # the smallest file a scaled-down campaign gets
MAX_WAIT: Final = 1800.0  # seconds a campaign may take to end before the run is abandoned
Totals = dict[str, dict[str, dict[str, Any]]]  # campaign id → channel → the ledger's campaign_totals entry


@dataclass(frozen=True)
class Planned:
    """A campaign to submit: its name (its id starts with it), recipient file, ``[budget]`` section and
    the numbers per channel the simulator's verdicts say it must get."""

    name: str
    data: Dataset
    expected: Expected
    budget: dict[str, str | float]

    @classmethod
    def make(cls, name: str, data: Dataset, sim_url: str, **budget: str | float) -> Planned:
        return cls(name, data, dataset_split(data, sim_url), budget)


@dataclass(frozen=True)
class Setup:
    """What every scenario shares: the simulator, the engine's settings, the data cache, the size scale
    and the smart cap."""

    sim_url: str
    env: dict[str, str]
    cache: Path
    logs: Path
    scale: float
    cap: float

    def planned(self, name: str, rows: int, seed: int, **budget: str | float) -> Planned:
        """A campaign of ``rows`` × scale rows on a file of its own (the seed keeps campaigns' numbers
        apart, so none finds another's capability verdicts cached)."""
        data = dataset(self.cache, max(MIN_ROWS, round(rows * self.scale)), "csv", seed=seed)
        return Planned.make(name, data, self.sim_url, **budget)

    def reset(self) -> None:
        """Forget the simulator's ledger, counters and rate state: each run is judged on its own."""
        sim_call(self.sim_url, "/_simulator/reset", {})

    def note(self) -> str:
        """The table note every scenario shares."""
        return (
            f"simulator caps {provider_caps(RateSettings())} numbers/s, capability uncapped, latency "
            f"{LATENCY_MS} ms; engine budgets the same (its defaults); sizes × {self.scale:g}; demo data "
            "(5 % duplicates, 2 % invalid): numbers = distinct valid numbers, smart + SMS fallback"
        )


@dataclass(frozen=True)
class Sent:
    """A submitted campaign: its id and the wall-clock time (epoch seconds) just before it was submitted,
    comparable with the simulator's acceptance times (same host clock)."""

    cid: str
    planned: Planned
    submitted: float


async def submit_planned(queue: ArqRedis, planned: Planned) -> Sent:
    """Submit one planned campaign as the CLI would; the clock starts before its file is read."""
    spec = bench_spec(name=planned.name, **planned.budget)
    at = time.time()
    result = await submit(queue, spec, planned.data.path)
    return Sent(result.cid, planned, at)


async def state_of(queue: ArqRedis, cid: str) -> str:
    value = await queue.hget(keys.campaign(cid), "state")  # type: ignore[misc]
    return value.decode() if isinstance(value, bytes) else ""


async def wait_ended(queue: ArqRedis, cid: str, procs: Sequence[Any]) -> str:
    """Wait until the campaign is in a terminal state and return it; RuntimeError when a worker dies."""
    terminal = {state.value for state in TERMINAL}
    deadline = time.monotonic() + MAX_WAIT
    while (state := await state_of(queue, cid)) not in terminal:
        check_alive(list(procs))
        if time.monotonic() > deadline:
            raise RuntimeError(f"campaign {cid} still {state} after {MAX_WAIT:g} s")
        await asyncio.sleep(POLL_SECONDS)
    return state


async def states_of(queue: ArqRedis, sents: Sequence[Sent]) -> dict[str, str]:
    """Each campaign's state now, by id: taken before the fleet (and its Redis) goes away."""
    return {sent.cid: await state_of(queue, sent.cid) for sent in sents}


async def cancel_unless_ended(queue: ArqRedis, cid: str) -> None:
    """Cancel a campaign that is still going (to bound a run); one that has ended is left as it is."""
    if await state_of(queue, cid) not in {state.value for state in TERMINAL}:
        await api.cancel(cid, redis=queue)


async def ledger_totals(sim_url: str) -> Totals:
    """Per campaign and channel: accepted, unique, duplicates, first and last acceptance time."""
    ledger = await asyncio.to_thread(sim_call, sim_url, "/_simulator/ledger?totals=1")
    out: Totals = {}
    for channel in CHANNELS:
        for cid, tally in ledger[channel]["campaign_totals"].items():
            out.setdefault(cid, {})[channel] = tally
    return out


def accepted(totals: Totals, cid: str, channel: str = "smart") -> int:
    """Numbers the simulator accepted for ``cid`` on ``channel`` so far."""
    return int(totals.get(cid, {}).get(channel, {}).get("accepted", 0))


def first_and_last(totals: Totals, cid: str) -> tuple[float, float] | None:
    """Epoch times of a campaign's first and last accepted call on any channel; None before its first."""
    tallies = totals.get(cid, {}).values()
    if not tallies:
        return None
    return min(t["first"] for t in tallies), max(t["last"] for t in tallies)


@dataclass(frozen=True)
class Exactness:
    """One campaign judged by its own ledger entries: a completed one got exactly its numbers on the
    channels its verdicts decide; a cancelled one got no number twice and none it should not have."""

    cid: str
    state: str
    expected: Expected
    got: dict[str, int]
    duplicates: int

    @classmethod
    def judge(cls, sent: Sent, state: str, totals: Totals) -> Exactness:
        tallies = totals.get(sent.cid, {})
        got = {channel: int(tallies.get(channel, {}).get("unique", 0)) for channel in CHANNELS}
        duplicates = sum(int(t.get("duplicates", 0)) for t in tallies.values())
        return cls(sent.cid, state, sent.planned.expected, got, duplicates)

    @property
    def exact(self) -> bool:
        e = self.expected
        if self.duplicates:
            return False
        if self.state == CampaignState.COMPLETED.value:
            return self.got == {"smart": e.smart, "sms": e.sms}
        within = self.got["smart"] <= e.smart and self.got["sms"] <= e.sms
        return self.state == CampaignState.CANCELLED.value and within

    def verdict(self) -> str:
        if not self.exact:
            return f"✗ {self.state}, {self.duplicates} dup, {self.got}"
        return "✓ each once" if self.state == CampaignState.COMPLETED.value else "✓ 0 dup (cancelled)"

    def as_json(self) -> dict[str, Any]:
        return {
            "cid": self.cid,
            "state": self.state,
            "expected": {"smart": self.expected.smart, "sms": self.expected.sms},
            "got": self.got,
            "duplicates": self.duplicates,
            "exact": self.exact,
        }


def judged(sents: Sequence[Sent], states: dict[str, str], totals: Totals) -> list[Exactness]:
    """Every campaign of a run judged by the ledger (read once the workers have stopped)."""
    return [Exactness.judge(sent, states[sent.cid], totals) for sent in sents]


def all_exact(checks: Sequence[Exactness]) -> str:
    """The ledger column of a table row: every campaign in it exact, or the first that was not."""
    wrong = [check for check in checks if not check.exact]
    return wrong[0].verdict() if wrong else f"✓ {len(checks)} exact"
