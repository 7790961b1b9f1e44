"""How much of the provider's rate cap does koodispatch use, and how often does it hit the cap anyway?

    python benchmarks/cap_utilisation.py [--recipients 300000] [--workers 1 2 4] [--repeat 1] [--no-record]
    python benchmarks/cap_utilisation.py --hosts 3 --workers 2      # as root: 3 hosts × 2 workers

The simulator, in its own process, enforces the provider's caps (smart messages 1,000 numbers/s, plain
SMS 1,000/s, basic 5,000/s: the engine's default budgets) and answers after a uniform 50–200 ms. For
each worker count, a fresh private Redis, N real ``koodispatch worker`` processes, then one campaign
(smart message, SMS fallback) from submit to completed, with the engine at its default budgets. Capability
checks are left uncapped on both sides: the question is the send cap, not the check.

  share of cap    smart numbers accepted per second over the steady part, divided by the cap. The steady
                  part runs from the moment the simulator's ledger holds 5 % of the run's smart numbers
                  to the moment it holds 95 %: it leaves out the start (first capability checks) and the
                  drain of the last batches. Goal ≥ 98 %.
  throttled       calls the simulator answered with flow control (429), as a share of all its calls,
                  from its own counters. Goal ≤ 0.1 %.
The ledger must also show every number sent exactly once. Default run time: ~4 minutes per worker count.

With ``--hosts N`` the run crosses hosts (``_hosts.py``, the namespace harness of ``tests/hosts``): Redis
and the simulator on one host, ``--workers`` worker processes on each of N others, over real TCP through
a bridge, so every admission and journal write pays a round trip between hosts.
"""

from __future__ import annotations

import argparse
import bisect
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from _common import Dataset, bench_spec, console, dataset, median_of, parser
from _report import Machine, Result, goal, percent, publish, seconds
from _sim import (
    LOOPBACK,
    Expected,
    LedgerCheck,
    Placement,
    dataset_split,
    engine_env,
    run_engine,
    sim_call,
    simulator_process,
)

from engine.runtime.settings import RateSettings
from engine.types import Channel

SHARE_GOAL: Final = 0.98
THROTTLE_GOAL: Final = 0.001
STEADY: Final = (0.05, 0.95)  # the steady part: between these shares of the run's smart numbers
LATENCY_MS: Final = "50-200"
COLUMNS: Final = [
    "workers", "numbers sent", "run", "steady part", "smart numbers/s (steady)", "share of cap",
    "≥ 98 %", "throttled calls", "≤ 0.1 %", "ledger",
]  # fmt: skip


def provider_caps(caps: RateSettings) -> dict[Channel, float]:
    """The caps the simulator enforces and the engine budgets at: the engine's defaults (capability checks
    uncapped on both sides: the question is the send cap)."""
    return {"smart": caps.smart, "sms": caps.sms, "basic": caps.basic}


@dataclass(frozen=True)
class Sample:
    """Smart numbers the simulator had accepted at a moment (monotonic seconds)."""

    at: float
    smart: int


@dataclass(frozen=True)
class Run:
    """One campaign run: wall seconds, the ledger samples taken while it ran, the final ledger."""

    seconds: float
    samples: list[Sample]
    ledger: LedgerCheck

    def steady(self) -> tuple[float, float]:
        """Seconds and smart numbers/s between the STEADY shares of the run's smart numbers."""
        total = self.ledger.expected.smart
        counts = [s.smart for s in self.samples]
        low, high = (self.samples[bisect.bisect_left(counts, share * total)] for share in STEADY)
        span = high.at - low.at
        return span, (high.smart - low.smart) / span if span > 0 else 0.0

    def throttled_share(self) -> float:
        calls = sum(self.ledger.calls.values())
        return sum(self.ledger.throttled.values()) / calls if calls else 0.0


def measure(
    data: Dataset,
    workers: int,
    sim_url: str,
    expected: Expected,
    caps: RateSettings,
    logs: Path,
    placement: Placement = LOOPBACK,
) -> Run:
    """One campaign with ``workers`` worker processes (per host of ``placement``), sampling the simulator's
    ledger on every poll."""
    sim_call(sim_url, "/_simulator/reset", {})
    samples: list[Sample] = []

    def sample() -> None:
        ledger = sim_call(sim_url, "/_simulator/ledger", None)
        samples.append(Sample(time.monotonic(), ledger["smart"]["accepted"]))

    env = engine_env(sim_url, provider_caps(caps))
    run = run_engine(bench_spec(), data.path, workers, env, logs, on_poll=sample, placement=placement)
    sample()  # the last accepted number is in the ledger once the campaign is completed
    return Run(run.seconds, samples, LedgerCheck.read(sim_url, expected, f"{workers} worker(s)"))


def row(workers: str, runs: list[Run], cap: float) -> list[str]:
    """One table row: medians over the repeats of one worker count."""
    spans, rates = zip(*(run.steady() for run in runs), strict=True)
    rate = median_of(rates)
    throttled = median_of([run.throttled_share() for run in runs])
    counts = runs[0].ledger
    calls = sum(counts.calls.values())
    return [
        workers, f"{counts.expected.total:,}", seconds(median_of([r.seconds for r in runs])),
        seconds(median_of(spans)), f"{rate:,.0f}", percent(rate / cap),
        goal(rate / cap, SHARE_GOAL, at_least=True),
        f"{percent(throttled)} ({sum(counts.throttled.values())} of {calls:,})",
        goal(throttled, THROTTLE_GOAL), counts.verdict(),
    ]  # fmt: skip


def main(args: argparse.Namespace) -> None:
    if args.hosts:
        from _hosts import on_hosts

        with on_hosts(args.hosts) as hosts:
            measure_all(args, hosts, f"{args.hosts} hosts × ")
    else:
        measure_all(args, LOOPBACK, "")


def measure_all(args: argparse.Namespace, placement: Placement, label: str) -> None:
    """Every worker count of ``args`` in turn (per host of ``placement``), then the table."""
    machine = Machine.current()
    data = dataset(args.cache_dir, args.recipients, "csv")
    logs = args.cache_dir / "logs"  # simulator and worker logs of the latest run, for when one fails
    logs.mkdir(parents=True, exist_ok=True)
    caps = RateSettings()
    sim_caps = provider_caps(caps)
    rows = []
    with simulator_process(logs, sim_caps, LATENCY_MS, placement.address) as sim:
        expected = dataset_split(data, sim.url)
        for workers in args.workers:
            runs = []
            for i in range(1, args.repeat + 1):
                runs.append(measure(data, workers, sim.url, expected, caps, logs, placement))
                took = f"{workers} worker(s): run {i}/{args.repeat} took {runs[-1].seconds:.1f} s"
                console.print(took, highlight=False)
            rows.append(row(f"{label}{workers}", runs, caps.smart))
    notes = [
        f"median of {args.repeat} run(s) per worker count; simulator caps (numbers/s) {sim_caps}, capability "
        f"uncapped, latency {LATENCY_MS} ms uniform; engine budgets the same (its defaults)",
        "steady part: from the moment the simulator had accepted 5 % of the run's smart numbers to the "
        "moment it had 95 % (ledger sampled every ~50 ms); share of cap = smart numbers/s over it ÷ "
        f"{caps.smart:g}",
        "throttled calls: 429 answers ÷ all provider calls (capability, smart, sms), simulator counters; "
        "the count shown is of the first run",
        f"{expected.smart:,} smart + {expected.sms:,} SMS numbers from {data.rows:,} rows (demo data)",
    ]
    if label:
        notes.append(
            f"{label}N: N workers on each host; Redis and the simulator on a host of their own; hosts are "
            "network namespaces on one bridge (veth pairs), all traffic over TCP between them"
        )
    title = "cap utilisation: share of the provider's smart-message cap"
    publish(Result(title, COLUMNS, rows, notes), machine, not args.no_record)


def cli() -> None:
    p = parser(__doc__.splitlines()[0])
    p.set_defaults(repeat=1)  # one run per worker count already takes minutes at the cap
    p.add_argument("--recipients", type=int, default=300_000, help="rows in the recipient file (300k)")
    p.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2, 4], help="worker-process counts (default 1 2 4)"
    )
    p.add_argument(
        "--hosts",
        type=int,
        default=0,
        help="run the workers on N hosts (network namespaces, needs root), --workers on each",
    )
    main(p.parse_args())


if __name__ == "__main__":
    cli()
