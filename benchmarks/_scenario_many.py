"""``multi_campaign.py --scenario many``: twenty small normal campaigns at once, weights 1 and 3.

Every campaign must complete, exactly. Its share is judged against its fair share: in every second it was
sending (from its first accepted second to its last), the smart numbers accepted in that second times its
weight over the weights of all campaigns sending in it. The set of campaigns sending changes as small ones
finish, so a fixed 1:3 ratio would be the wrong yardstick; this one follows it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Final

import uvloop
from _common import median_of
from _report import Result, goal, seconds
from _sim import Fleet, engine_fleet, sim_call
from _together import (
    Exactness,
    Planned,
    Sent,
    Setup,
    all_exact,
    first_and_last,
    judged,
    ledger_totals,
    states_of,
    submit_planned,
    wait_ended,
)

from engine.store.connection import open_queue

ROWS: Final = tuple(1_000 * (i + 1) for i in range(20))
WEIGHTS: Final = (1, 3)  # alternating over the sizes, so each weight has small and large campaigns
SEED: Final = 400  # the first campaign's file (+1 for each next)
FAIR_BAND: Final = 0.25  # each campaign's smart numbers within ± 25 % of its fair share
STARVED_AFTER: Final = 2.0  # seconds from submit to the first accepted number
COLUMNS: Final = [
    "campaign", "weight", "numbers", "to first", "sending", "smart numbers", "÷ fair share", "± 25 %",
    "first ≤ 2 s", "ledger",
]  # fmt: skip


@dataclass(frozen=True)
class Campaign:
    """One of the many, judged: when it started and stopped sending, its share, its ledger."""

    sent: Sent
    to_first: float
    sending: float  # seconds from its first to its last accepted call
    smart: int
    fair: float  # its smart numbers ÷ its fair share
    check: Exactness

    @property
    def weight(self) -> float:
        return float(self.sent.planned.budget["weight"])

    def fair_met(self) -> bool:
        return abs(self.fair - 1.0) <= FAIR_BAND

    def first_met(self) -> bool:
        return self.to_first <= STARVED_AFTER


def fair_shares(per_second: dict[str, dict[str, int]], weights: dict[str, float]) -> dict[str, float]:
    """Each campaign's smart numbers ÷ its fair share of every second it was sending (see the module)."""
    seconds_of = {cid: [int(s) for s in counts] for cid, counts in per_second.items()}
    spans = {cid: (min(secs), max(secs)) for cid, secs in seconds_of.items() if secs}
    totals: Counter[int] = Counter()
    for counts in per_second.values():
        totals.update({int(s): n for s, n in counts.items()})
    expected: Counter[str] = Counter()
    for second, total in totals.items():
        sending = [cid for cid, (first, last) in spans.items() if first <= second <= last]
        weight = sum(weights[cid] for cid in sending)
        for cid in sending:
            expected[cid] += total * weights[cid] / weight  # type: ignore[assignment]
    return {cid: sum(per_second[cid].values()) / expected[cid] if expected[cid] else 0.0 for cid in weights}


async def run(fleet: Fleet, planned: list[Planned]) -> tuple[list[Sent], dict[str, str]]:
    """Submit them all, one right after another, and wait until every one has ended."""
    queue = await open_queue(fleet.url)
    try:
        sents = [await submit_planned(queue, p) for p in planned]
        for sent in sents:
            await wait_ended(queue, sent.cid, fleet.procs)
        return sents, await states_of(queue, sents)
    finally:
        await queue.aclose()


def scenario(setup: Setup, workers: int) -> tuple[Result, dict[str, Any]]:
    """The twenty campaigns with ``workers`` workers; the table and the JSON figures."""
    planned = [
        setup.planned(f"small{i:02d}", rows, SEED + i, weight=WEIGHTS[i % len(WEIGHTS)])
        for i, rows in enumerate(ROWS)
    ]
    setup.reset()
    with engine_fleet(workers, setup.env, setup.logs) as fleet:
        sents, states = uvloop.run(run(fleet, planned))
    totals = uvloop.run(ledger_totals(setup.sim_url))
    per_second = sim_call(setup.sim_url, "/_simulator/ledger?channel=smart&campaigns=1")["smart"]
    per_second = per_second["campaigns"]
    fair = fair_shares(per_second, {s.cid: float(s.planned.budget["weight"]) for s in sents})
    checks = judged(sents, states, totals)
    campaigns = [judge(s, check, totals, fair[s.cid]) for s, check in zip(sents, checks, strict=True)]
    return table(campaigns, setup, workers), figures(campaigns)


def judge(sent: Sent, check: Exactness, totals: Any, fair: float) -> Campaign:
    first, last = first_and_last(totals, sent.cid) or (float("inf"), float("inf"))
    smart = int(totals.get(sent.cid, {}).get("smart", {}).get("accepted", 0))
    return Campaign(sent, first - sent.submitted, last - first, smart, fair, check)


def row(c: Campaign) -> list[str]:
    return [
        c.sent.planned.name, f"{c.weight:g}", f"{c.sent.planned.expected.total:,}", seconds(c.to_first),
        seconds(c.sending), f"{c.smart:,}", f"{c.fair:.2f}", goal(abs(c.fair - 1.0), FAIR_BAND),
        goal(c.to_first, STARVED_AFTER), c.check.verdict(),
    ]  # fmt: skip


def table(campaigns: list[Campaign], setup: Setup, workers: int) -> Result:
    fairs = [c.fair for c in campaigns]
    completed = sum(c.check.state == "completed" for c in campaigns)
    summary = [
        f"all {len(campaigns)}", "", f"{sum(c.sent.planned.expected.total for c in campaigns):,}",
        f"max {max(c.to_first for c in campaigns):.2f} s", f"max {max(c.sending for c in campaigns):.2f} s",
        f"{sum(c.smart for c in campaigns):,}", f"{min(fairs):.2f} – {max(fairs):.2f}",
        "✓ met" if all(c.fair_met() for c in campaigns) else "✗ missed",
        "✓ met" if all(c.first_met() for c in campaigns) else "✗ missed",
        f"{completed} completed; {all_exact([c.check for c in campaigns])}",
    ]  # fmt: skip
    notes = [
        f"{workers} worker processes; {len(campaigns)} normal campaigns of {ROWS[0]:,} … {ROWS[-1]:,} rows "
        f"× {setup.scale:g}, weights {', '.join(map(str, WEIGHTS))}, … alternating, submitted one right "
        "after another",
        "to first: from just before its submit to its first accepted call (simulator's clock); sending: "
        "its first to its last accepted call",
        "÷ fair share: its smart numbers ÷ the sum, over every second it was sending, of that second's "
        "smart numbers × its weight ÷ the weights sending then (1.00 = exactly by weight; the first and "
        "last seconds are partial, a call is 100 numbers, so the smallest carry ± one call); median by "
        f"weight: {', '.join(f'{w} → {median_fair(campaigns, w):.2f}' for w in WEIGHTS)}",
        setup.note(),
    ]
    title = "many campaigns: twenty small campaigns at once, shares by weight"
    return Result(title, COLUMNS, [*map(row, campaigns), summary], notes)


def figures(campaigns: list[Campaign]) -> dict[str, Any]:
    return {
        "campaigns": [
            {
                **c.check.as_json(), "name": c.sent.planned.name, "weight": c.weight, "to_first": c.to_first,
                "sending": c.sending, "smart": c.smart, "fair": c.fair,
            }
            for c in campaigns
        ],
        "fair_min": min(c.fair for c in campaigns),
        "fair_max": max(c.fair for c in campaigns),
        "first_max": max(c.to_first for c in campaigns),
        "goals": {
            "completed": all(c.check.state == "completed" and c.check.exact for c in campaigns),
            "fair": all(c.fair_met() for c in campaigns),
            "not_starved": all(c.first_met() for c in campaigns),
        },
    }  # fmt: skip


def median_fair(campaigns: list[Campaign], weight: float) -> float:
    return median_of([c.fair for c in campaigns if c.weight == weight])
