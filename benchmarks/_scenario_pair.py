"""``multi_campaign.py --scenario pair``: two normal campaigns share the smart cap by weight.

The big one is submitted first and sends alone while the small one is read; the overlap is measured while
the small one sends (from 5 % to 95 % of its smart numbers, or ``--window`` seconds from 5 %), then both
are cancelled: what follows is one campaign alone, which ``cap_utilisation.py`` measures already.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from dataclasses import dataclass
from typing import Any, Final

import uvloop
from _common import console
from _report import Result, goal, percent, seconds
from _sim import POLL_SECONDS, Fleet, check_alive, engine_fleet, sim_call
from _together import (
    Exactness,
    Planned,
    Sent,
    Setup,
    accepted,
    all_exact,
    cancel_unless_ended,
    judged,
    ledger_totals,
    state_of,
    states_of,
    submit_planned,
)
from cap_utilisation import SHARE_GOAL, STEADY, THROTTLE_GOAL

from engine.store.connection import open_queue
from engine.types import TERMINAL

ROWS: Final = (300_000, 1_000_000)  # the small one, the big one
WEIGHTS: Final = ((1, 1), (3, 1))  # the small one's weight first
SEEDS: Final = (300, 301)
POINTS: Final = 0.05  # the small one's share within ± 5 points of its weight's
COLUMNS: Final = [
    "weights", "workers", "steady overlap", "share of the 300k", "± 5 points", "both, share of cap",
    "≥ 98 %", "throttled calls", "≤ 0.1 %", "ledger",
]  # fmt: skip


@dataclass(frozen=True)
class Sample:
    """Smart numbers accepted by a moment (monotonic seconds): the small campaign's, the big one's."""

    at: float
    small: int
    big: int


@dataclass(frozen=True)
class Overlap:
    """One run's steady overlap and the simulator's call counters over the whole run."""

    weights: tuple[int, int]
    workers: int
    span: float
    small: int
    big: int
    calls: int
    throttled: int
    checks: list[Exactness]

    @property
    def expected_share(self) -> float:
        return self.weights[0] / sum(self.weights)

    def share(self) -> float:
        """The small campaign's share of the smart numbers both got over the steady overlap."""
        both = self.small + self.big
        return self.small / both if both else 0.0

    def of_cap(self, cap: float) -> float:
        return (self.small + self.big) / self.span / cap if self.span > 0 else 0.0

    def throttled_share(self) -> float:
        return self.throttled / self.calls if self.calls else 0.0


def steady(samples: list[Sample], smart: int, window: float | None) -> tuple[Sample, Sample]:
    """The samples bounding the steady overlap: the small campaign at STEADY[0] of its smart numbers,
    then at STEADY[1] (or ``window`` seconds later, or the last sample)."""
    counts, last = [s.small for s in samples], len(samples) - 1
    low = samples[min(bisect.bisect_left(counts, STEADY[0] * smart), last)]
    high = samples[min(bisect.bisect_left(counts, STEADY[1] * smart), last)]
    if window is not None and high.at - low.at > window:
        high = samples[min(bisect.bisect_left([s.at for s in samples], low.at + window), last)]
    return low, high


async def sample(sim_url: str, small: Sent, big: Sent) -> Sample:
    totals = await ledger_totals(sim_url)
    return Sample(time.monotonic(), accepted(totals, small.cid), accepted(totals, big.cid))


async def sample_until_done(
    queue: Any, fleet: Fleet, sim_url: str, small: Sent, big: Sent, window: float | None
) -> list[Sample]:
    """Sample both campaigns' smart numbers until the small one has ended or the window is measured."""
    terminal = {state.value for state in TERMINAL}
    samples: list[Sample] = []
    started: float | None = None  # when the small one reached the steady part's start
    while True:
        samples.append(await sample(sim_url, small, big))
        if started is None and samples[-1].small >= STEADY[0] * small.planned.expected.smart:
            started = samples[-1].at
        if window is not None and started is not None and samples[-1].at - started > window:
            return samples
        if await state_of(queue, small.cid) in terminal:
            return [*samples, await sample(sim_url, small, big)]  # its last number is in the ledger now
        check_alive(fleet.procs)
        await asyncio.sleep(POLL_SECONDS)


async def run(
    fleet: Fleet, sim_url: str, small: Planned, big: Planned, window: float | None
) -> tuple[list[Sample], list[Sent], dict[str, str]]:
    queue = await open_queue(fleet.url)
    try:
        sent_big = await submit_planned(queue, big)  # sends alone while the small one's file is read
        sent_small = await submit_planned(queue, small)
        samples = await sample_until_done(queue, fleet, sim_url, sent_small, sent_big, window)
        for sent in (sent_small, sent_big):
            await cancel_unless_ended(queue, sent.cid)
        sents = [sent_small, sent_big]
        return samples, sents, await states_of(queue, sents)
    finally:
        await queue.aclose()


def one_run(setup: Setup, pair: tuple[Planned, Planned], workers: int, window: float | None) -> Overlap:
    weights = (int(pair[0].budget["weight"]), int(pair[1].budget["weight"]))
    setup.reset()
    with engine_fleet(workers, setup.env, setup.logs) as fleet:
        samples, sents, states = uvloop.run(run(fleet, setup.sim_url, *pair, window))
    ledger = sim_call(setup.sim_url, "/_simulator/ledger")
    checks = judged(sents, states, uvloop.run(ledger_totals(setup.sim_url)))
    low, high = steady(samples, pair[0].expected.smart, window)
    return Overlap(
        weights, workers, high.at - low.at, high.small - low.small, high.big - low.big,
        sum(ledger["calls"].values()), sum(ledger["throttled"].values()), checks,
    )  # fmt: skip


def scenario(setup: Setup, workers: list[int], window: float | None) -> tuple[Result, dict[str, Any]]:
    """Each weight pair with each worker count; the table and the JSON figures."""
    runs = []
    for weights in WEIGHTS:
        pair = (
            setup.planned("small", ROWS[0], SEEDS[0], weight=weights[0]),
            setup.planned("big", ROWS[1], SEEDS[1], weight=weights[1]),
        )
        for count in workers:
            runs.append(one_run(setup, pair, count, window))
            took = f"{weights[0]}:{weights[1]}, {count} worker(s): steady overlap {runs[-1].span:.1f} s"
            console.print(took, highlight=False)  # progress: one run takes minutes at the cap
    return table(runs, setup, window), figures(runs, setup.cap)


def row(run: Overlap, cap: float) -> list[str]:
    share, of_cap, throttled = run.share(), run.of_cap(cap), run.throttled_share()
    return [
        f"{run.weights[0]}:{run.weights[1]}", str(run.workers), seconds(run.span),
        f"{percent(share)} (goal {percent(run.expected_share)})",
        goal(abs(share - run.expected_share), POINTS), percent(of_cap),
        goal(of_cap, SHARE_GOAL, at_least=True),
        f"{percent(throttled)} ({run.throttled:,} of {run.calls:,})", goal(throttled, THROTTLE_GOAL),
        all_exact(run.checks),
    ]  # fmt: skip


def table(runs: list[Overlap], setup: Setup, window: float | None) -> Result:
    small, big = runs[0].checks
    bound = f"for at most {window:g} s" if window is not None else f"to {STEADY[1] * 100:g} %"
    notes = [
        f"two normal campaigns: {small.expected.total:,} numbers ({small.expected.smart:,} smart) and "
        f"{big.expected.total:,}; the big one submitted first, the small one right after it",
        f"steady overlap: from the small one's {STEADY[0] * 100:g} % of its smart numbers {bound} (ledger "
        "sampled every ~50 ms); share = its smart numbers ÷ both's over it; both, share of cap = both's "
        f"smart numbers/s ÷ {setup.cap:g}",
        "throttled calls: 429 answers ÷ all provider calls in the run, simulator counters; both campaigns "
        "cancelled once measured (the ledger column: 0 duplicates, nothing beyond each one's numbers)",
        setup.note(),
    ]
    title = "many campaigns: two normal campaigns share the smart cap by weight"
    return Result(title, COLUMNS, [row(run, setup.cap) for run in runs], notes)


def figures(runs: list[Overlap], cap: float) -> dict[str, Any]:
    return {
        "runs": [
            {
                "weights": list(run.weights), "workers": run.workers, "span": run.span,
                "share": run.share(), "expected_share": run.expected_share, "of_cap": run.of_cap(cap),
                "throttled": run.throttled_share(), "calls": run.calls,
                "goals": {
                    "share": abs(run.share() - run.expected_share) <= POINTS,
                    "of_cap": run.of_cap(cap) >= SHARE_GOAL,
                    "throttled": run.throttled_share() <= THROTTLE_GOAL,
                },
                "campaigns": [check.as_json() for check in run.checks],
            }
            for run in runs
        ]
    }  # fmt: skip
