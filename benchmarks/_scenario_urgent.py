"""``multi_campaign.py --scenario urgent``: urgent campaigns submitted while a bulk one sends at the cap.

Bulk sends alone for a while; then each urgent campaign in turn: bulk's rate in the seconds before it, the
urgent campaign from submit to completed (timed by the simulator's clock), bulk's rate after it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Final

import uvloop
from _common import median_of
from _report import Result, goal, seconds
from _sim import POLL_SECONDS, Fleet, check_alive, engine_fleet
from _together import (
    Exactness,
    Planned,
    Sent,
    Setup,
    accepted,
    all_exact,
    cancel_unless_ended,
    first_and_last,
    judged,
    ledger_totals,
    states_of,
    submit_planned,
    wait_ended,
)
from arq.connections import ArqRedis

from engine.store.connection import open_queue

URGENT_ROWS: Final = 2_000
BULK_ROWS: Final = 1_000_000
SUBMISSIONS: Final = 5
SEEDS: Final = (200, 100)  # bulk's file, the first urgent one's (+1 for each next)
FIRST_GOALS: Final = (1.0, 2.0)  # seconds to the first number: median, max
LAST_MARGIN: Final = 2.0  # seconds to the last number ≤ numbers / cap + this
WARMUP: Final = 3.0  # seconds bulk sends alone before the first urgent campaign's "before" window
COLUMNS: Final = [
    "urgent", "numbers", "to first", "to last", "goal for last", "bulk before", "bulk during",
    "bulk after", "first: median ≤ 1 s, max ≤ 2 s", "last ≤ goal", "ledger",
]  # fmt: skip


@dataclass(frozen=True)
class Mark:
    """Bulk's smart numbers accepted by a moment (monotonic seconds)."""

    at: float
    count: int

    def rate_to(self, later: Mark) -> float:
        span = later.at - self.at
        return (later.count - self.count) / span if span > 0 else 0.0


@dataclass(frozen=True)
class Urgent:
    """One urgent submission: seconds to its first and last accepted number, bulk's numbers/s around it."""

    sent: Sent
    to_first: float
    to_last: float
    bulk: tuple[float, float, float]  # smart numbers/s before, during, after

    def last_goal(self, cap: float) -> float:
        return self.sent.planned.expected.total / cap + LAST_MARGIN


async def mark(sim_url: str, cid: str) -> Mark:
    return Mark(time.monotonic(), accepted(await ledger_totals(sim_url), cid))


async def one_urgent(
    queue: ArqRedis, fleet: Fleet, sim_url: str, bulk: str, planned: Planned, after: float
) -> Urgent:
    """Bulk alone for ``after`` s, the urgent campaign from submit to completed, bulk alone again."""
    start = await mark(sim_url, bulk)
    await asyncio.sleep(after)
    before = await mark(sim_url, bulk)
    sent = await submit_planned(queue, planned)
    await wait_ended(queue, sent.cid, fleet.procs)
    ended = await mark(sim_url, bulk)
    await asyncio.sleep(after)
    later = await mark(sim_url, bulk)
    first, last = first_and_last(await ledger_totals(sim_url), sent.cid) or (sent.submitted, sent.submitted)
    rates = start.rate_to(before), before.rate_to(ended), ended.rate_to(later)
    return Urgent(sent, first - sent.submitted, last - sent.submitted, rates)


async def until_sending(sim_url: str, cid: str, fleet: Fleet) -> None:
    """Wait for a campaign's first accepted smart number."""
    while not accepted(await ledger_totals(sim_url), cid):
        check_alive(fleet.procs)
        await asyncio.sleep(POLL_SECONDS)


async def run(
    fleet: Fleet, sim_url: str, bulk: Planned, urgents: list[Planned], after: float
) -> tuple[list[Urgent], list[Sent], dict[str, str]]:
    """Bulk, then each urgent campaign in turn, then bulk cancelled: the timings, the campaigns, their
    states (bulk's before its cancel)."""
    queue = await open_queue(fleet.url)
    try:
        big = await submit_planned(queue, bulk)
        await until_sending(sim_url, big.cid, fleet)
        await asyncio.sleep(WARMUP)
        timings = [await one_urgent(queue, fleet, sim_url, big.cid, u, after) for u in urgents]
        await cancel_unless_ended(queue, big.cid)
        sents = [big, *(t.sent for t in timings)]
        return timings, sents, await states_of(queue, sents)
    finally:
        await queue.aclose()


def scenario(setup: Setup, workers: int, after: float) -> tuple[Result, dict[str, Any]]:
    """Measure the urgent submissions through bulk; the table and the JSON figures."""
    bulk = setup.planned("bulk", BULK_ROWS, SEEDS[0], priority="bulk")
    urgents = [
        setup.planned(f"urgent{i}", URGENT_ROWS, SEEDS[1] + i, priority="urgent") for i in range(SUBMISSIONS)
    ]
    setup.reset()
    with engine_fleet(workers, setup.env, setup.logs) as fleet:
        timings, sents, states = uvloop.run(run(fleet, setup.sim_url, bulk, urgents, after))
    checks = judged(sents, states, uvloop.run(ledger_totals(setup.sim_url)))  # the workers have stopped
    return table(timings, checks, setup, workers, after), figures(timings, checks, setup.cap)


def first_met(firsts: list[float]) -> bool:
    return median_of(firsts) <= FIRST_GOALS[0] and max(firsts) <= FIRST_GOALS[1]


def rate(value: float) -> str:
    return f"{value:,.0f}/s"


def table(timings: list[Urgent], checks: list[Exactness], setup: Setup, workers: int, after: float) -> Result:
    """One row per urgent submission, then medians / maxima with the goals judged."""
    rows = [
        [
            f"#{i}", f"{t.sent.planned.expected.total:,}", seconds(t.to_first), seconds(t.to_last),
            seconds(t.last_goal(setup.cap)), *map(rate, t.bulk), "",
            goal(t.to_last, t.last_goal(setup.cap)), check.verdict(),
        ]
        for i, (t, check) in enumerate(zip(timings, checks[1:], strict=True), 1)
    ]  # fmt: skip
    firsts, lasts = [t.to_first for t in timings], [t.to_last for t in timings]
    worst = max(t.to_last - t.last_goal(setup.cap) for t in timings)
    rows.append(
        [
            "median / max", "", f"{median_of(firsts):.2f} / {max(firsts):.2f} s",
            f"{median_of(lasts):.2f} / {max(lasts):.2f} s", "",
            *(rate(median_of(each)) for each in zip(*(t.bulk for t in timings), strict=True)),
            "✓ met" if first_met(firsts) else "✗ missed", goal(worst, 0.0), all_exact(checks),
        ]
    )  # fmt: skip
    bulk = checks[0]
    notes = [
        f"{workers} worker processes; bulk: {bulk.expected.total:,} numbers, priority bulk, "
        f"{sum(bulk.got.values()):,} sent, then {bulk.state} after the urgent ones ({bulk.verdict()}); "
        f"{len(timings)} urgent campaigns, priority urgent, one after another",
        "to first / to last: from just before submit (the file is read after it) to the urgent campaign's "
        "first / last accepted call, by the simulator's clock (ledger ?totals=1)",
        f"goal for last: its numbers ÷ {setup.cap:g} (smart cap) + {LAST_MARGIN:g} s; bulk before / during / "
        f"after: bulk's smart numbers/s in the {after:g} s before the submit, from submit to completed, and "
        f"in the {after:g} s after; the last row gives their medians",
        setup.note(),
    ]
    title = "many campaigns: urgent campaigns through a bulk one at the cap"
    return Result(title, COLUMNS, rows, notes)


def figures(timings: list[Urgent], checks: list[Exactness], cap: float) -> dict[str, Any]:
    """The scenario's JSON: each submission, the goals, each campaign's ledger verdict."""
    firsts = [t.to_first for t in timings]
    submissions = [
        {
            "cid": t.sent.cid, "numbers": t.sent.planned.expected.total, "to_first": t.to_first,
            "to_last": t.to_last, "goal_last": t.last_goal(cap),
            **dict(zip(("bulk_before", "bulk_during", "bulk_after"), t.bulk, strict=True)),
        }
        for t in timings
    ]  # fmt: skip
    return {
        "submissions": submissions,
        "first_median": median_of(firsts),
        "first_max": max(firsts),
        "goals": {"first": first_met(firsts), "last": all(t.to_last <= t.last_goal(cap) for t in timings)},
        "campaigns": [check.as_json() for check in checks],
    }
