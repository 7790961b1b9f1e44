"""What a Redis failover does to a running campaign, and what confirming each call's mark on a replica costs.

    python benchmarks/failover.py [--recipients 30000] [--kill-after 6000] [--replicas 1 2] [--lag 1.5]
                                  [--marks 5000] [--no-record]

Two measurements:

- **failover** (needs root, as ``tests/hosts``): the scenario of ``tests/hosts/test_failover.py`` — a
  primary, its replica (or ``--replicas`` of them) and three sentinels on hosts of their own, one worker on
  each of three hosts, the simulator (20–120 ms per call) — with ``kill -9`` of the primary once
  ``--kill-after`` numbers were sent; and once more with one replica that receives nothing for ``--lag``
  seconds before the kill, so the replica promoted lacks the primary's last writes. Reported: the longest
  time after the kill in which the provider accepted no number, when the sentinels named a replica the
  primary and when that one had a replica of its own (no call is made before), calls held back because no
  replica held their mark, the provider calls reconciled and resent, and the ledger's duplicates and
  missing numbers.
- **cost of the WAIT** (loopback): ``--marks`` in_flight marks journaled through the coalesced scripts as
  the admissions journal them, one at a time (each pays a round trip) and 64 at once (they share round
  trips), without a replica confirmation and with ``WAIT 1`` (a primary, its replica and a sentinel on
  this machine, reached through the sentinel): the time per mark, median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import time
from pathlib import Path
from tempfile import mkdtemp
from typing import Final

from _common import parser
from _report import Machine, Result, publish

from engine.simulator.capability import is_capable
from engine.store.coalesce import CoalescedScript, require_replicas
from engine.store.connection import open_queue
from engine.store.scripts import load_script
from tests.conftest import SHARE
from tests.hosts.conftest import sentinel_hosts
from tests.hosts.failover import Failover, fail_over_mid_campaign
from tests.hosts.netns import unavailable
from tests.processes import sim_get
from tests.sentinels import SentinelGroup

CONCURRENT: Final = 64


async def failover(
    recipients: int, kill_after: int, replicas: int, lag: float
) -> tuple[Failover, dict[str, dict[str, int]]]:
    with sentinel_hosts(os.environ.__setitem__, f"kdb-{os.getpid()}-", replicas) as cluster:
        run = await fail_over_mid_campaign(
            cluster, Path(mkdtemp(prefix="kd-failover-")), recipients, 41, kill_after, lag
        )
        return run, sim_get(cluster.sim, "/_simulator/ledger")


async def mark_cost(marks: int, repeat: int) -> dict[tuple[int, int], float]:
    """Seconds per mark by (replicas to confirm, marks at once): the median of ``repeat`` runs, the two
    sides interleaved."""
    group = SentinelGroup.build("127.0.0.1", ["127.0.0.1"], ["127.0.0.1"])
    group.start()
    costs: dict[tuple[int, int], list[float]] = {}
    try:
        redis = await open_queue(group.url)
        try:
            mark = CoalescedScript(redis, load_script(redis, "mark_in_flight"))
            await redis.set("lease", "me")
            for _, width, replicas in itertools.product(range(repeat), (1, CONCURRENT), (0, 1)):
                require_replicas(redis, replicas, 1.0)
                started = time.perf_counter()
                for first in range(0, marks, width):
                    await asyncio.gather(
                        *(
                            mark(keys=["lease", "journal"], args=["me", str(i), "{}"], durable=True)
                            for i in range(first, min(first + width, marks))
                        )
                    )
                costs.setdefault((replicas, width), []).append((time.perf_counter() - started) / marks)
        finally:
            await redis.aclose()
    finally:
        group.close()
    return {key: statistics.median(runs) for key, runs in costs.items()}


def main() -> None:
    args = _arguments()
    reason = unavailable()
    if reason is not None:
        raise SystemExit(f"the failover runs across hosts: {reason}")
    topologies = [(n, 0.0) for n in args.replicas] + [(1, args.lag)] * bool(args.lag)
    runs = [asyncio.run(failover(args.recipients, args.kill_after, n, lag)) for n, lag in topologies]
    costs = asyncio.run(mark_cost(args.marks, args.repeat))
    rows = _failover_rows([run for run, _ in runs], [ledger for _, ledger in runs])
    us = {key: f"{value * 1e6:,.0f} µs" for key, value in costs.items()}
    blank = [""] * (len(runs) - 1)
    rows += [
        ["a mark alone: no WAIT / WAIT 1 (loopback)", f"{us[0, 1]} / {us[1, 1]}", *blank],
        [
            f"{CONCURRENT} marks at once, per mark: no WAIT / WAIT 1",
            f"{us[0, CONCURRENT]} / {us[1, CONCURRENT]}",
            *blank,
        ],
    ]
    notes = [
        f"{args.recipients:,} recipients, smart and basic at 1,500/s, a worker on each of 3 hosts, kill -9 "
        f"of the primary after {args.kill_after:,} sent; redis.min_replicas_ack 1 (the default through "
        "Sentinel)",
        "sentinels: down-after-milliseconds 1000, failover-timeout 5000; the old primary restarted (empty) "
        "once a replica was promoted, and made a replica by the sentinels",
        f"WAIT cost: {args.marks:,} in_flight marks (median of {args.repeat} runs) through the coalesced "
        "scripts on loopback (primary, replica and sentinel on this machine); an admission is one such "
        "round trip",
    ]
    columns = ["measure", *(_topology(n, lag) for n, lag in topologies)]
    result = Result("Redis failover (Sentinel)", columns, rows, notes)
    publish(result, Machine.current(), not args.no_record)


def _failover_rows(runs: list[Failover], ledgers: list[dict[str, dict[str, int]]]) -> list[list[str]]:
    """One row per figure of the failover, a column per topology."""
    judged = []
    for run, ledger in zip(runs, ledgers, strict=True):
        capable = sum(is_capable(n, SHARE) for n in run.truth.numbers.to_list())
        expected = {"smart": capable, "basic": run.truth.imported - capable, "sms": 0}
        duplicates = sum(ledger[c]["duplicates"] for c in expected)
        missing = sum(max(0, want - ledger[c]["unique"]) for c, want in expected.items())
        judged.append(f"{duplicates} / {missing}")
    paths = [run.report.paths for run in runs]
    return [
        ["seconds without sending after the kill", *(f"{run.silent:.1f} s" for run in runs)],
        ["a replica named the primary after the kill", *(f"{run.promoted_after:.1f} s" for run in runs)],
        ["the new primary had a replica after", *(_seconds(run.replicated_after) for run in runs)],
        ["calls held back (mark on no replica)", *(str(run.refused) for run in runs)],
        [
            "provider calls reconciled / resent",
            *(f"{p.get('reconciled', 0)} / {p.get('resent', 0)}" for p in paths),
        ],
        ["provider calls in all", *(str(sum(p.values())) for p in paths)],
        ["duplicates / missing (ledger)", *judged],
    ]


def _topology(replicas: int, lag: float) -> str:
    named = f"{replicas} replica{'s' if replicas > 1 else ''}"
    return f"{named}, {lag:g} s behind" if lag else named


def _seconds(value: float | None) -> str:
    return "not seen" if value is None else f"{value:.1f} s"


def _arguments() -> argparse.Namespace:
    cli = parser(__doc__ or "")
    cli.add_argument("--recipients", type=int, default=30_000)
    cli.add_argument("--kill-after", type=int, default=6_000, help="numbers sent before the kill")
    cli.add_argument("--marks", type=int, default=5_000, help="marks per WAIT-cost measurement")
    cli.add_argument("--replicas", type=int, nargs="+", default=[1, 2], help="topologies: replicas each")
    cli.add_argument(
        "--lag", type=float, default=1.5, help="and one replica that lags this long before the kill (0: not)"
    )
    return cli.parse_args()


if __name__ == "__main__":
    main()
