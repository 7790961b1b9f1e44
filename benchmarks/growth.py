"""What does a campaign cost as it grows: 1M, 10M and 30M rows side by side (issue 23 point 4)?

    PYTHONPATH=. python benchmarks/growth.py [--sizes 1000000 10000000 30000000] [--workers 2] [--repeat 1]
                                             [--delete-data] [--no-record]

For each size, one after the other on the same CSV file (engine.ingest.demo_data):
  ingest      ``ingest.py``'s measurement: the polars floor against ``planner.submit`` (time, and the
              submitting process' peak RSS)
  end to end  ``end_to_end.py``'s: the bare floor against submit + real workers at lifted caps (time; CPU
              per million numbers sent by process: submitting process, workers, Redis, and the simulator;
              Redis' ``used_memory`` at its peak and when the campaign completed, per number)
Each side runs ``--repeat`` times, interleaved with the other; one Markdown table, one row per size, so the
cost of growth reads at a glance. ``--delete-data`` removes each generated file once its size is measured
(30M rows: 1.2 GB). The children run the checkout's ``engine`` only with ``PYTHONPATH`` set to it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import end_to_end
import ingest
from _common import console, dataset, median_of, parser
from _report import Machine, Result, publish, ratio, size

from engine.runtime.malloc_tuning import keep_freed_memory
from engine.runtime.redis_server import RedisServer

COLUMNS = [
    "rows", "numbers sent", "load",
    "ingest floor → ours", "ingest ours/floor", "ingest peak RSS",
    "end to end floor → ours", "end to end ours/floor",
    "CPU per 1M floor (+ sim)", "CPU per 1M ours: submit + workers + Redis (+ sim)", "CPU ours/floor",
    "Redis peak / completed", "per number",
]  # fmt: skip


def ingest_figures(path: Path, rows: int, server: RedisServer, repeat: int) -> list[str]:
    """The ingest cells of one size: median seconds of both sides, their ratio, ours' largest peak RSS."""
    data = dataset(path, rows, "csv")
    floors, ourses = ingest.pairs(data, f"ingest {rows:,}", server, repeat)
    floor_s = median_of([r["seconds"] for r in floors])
    ours_s = median_of([r["seconds"] for r in ourses])
    rss = max(r["peak_rss"] for r in ourses)
    return [f"{floor_s:.2f} → {ours_s:.2f} s", ratio(ours_s, floor_s), size(rss)]


def end_to_end_figures(measured: end_to_end.Measured) -> list[str]:
    """The end-to-end cells of one size: times, CPU per million numbers sent per process, Redis memory."""
    floors, ourses, total = measured.floors, measured.ourses, measured.expected.total
    floor_s = median_of([r.seconds for r in floors])
    ours_s = median_of([r.seconds for r in ourses])
    scale = 1e6 / total
    floor_cpu = median_of([r.cpu * scale for r in floors])
    split = [median_of([part(r.run) * scale for r in ourses]) for part in end_to_end.CPU_SPLIT]
    sims = [median_of([r.sim_cpu * scale for r in side]) for side in (floors, ourses)]
    peak = median_of([r.run.memory.peak - r.run.memory.before for r in ourses])
    after = median_of([r.run.memory.after - r.run.memory.before for r in ourses])
    return [
        f"{floor_s:.1f} → {ours_s:.1f} s", ratio(ours_s, floor_s),
        f"{floor_cpu:.2f} s (+ {sims[0]:.2f})",
        f"{split[0]:.2f} + {split[1]:.2f} + {split[2]:.2f} = {sum(split):.2f} s (+ {sims[1]:.2f})",
        ratio(sum(split), floor_cpu),
        f"{peak / 1e6:,.0f} / {after / 1e6:,.0f} MB", f"{peak / total:.1f} / {after / total:.1f} B",
    ]  # fmt: skip


def main(args: argparse.Namespace) -> None:
    machine = Machine.current()
    rows: list[list[str]] = []
    for count in args.sizes:
        load = f"{os.getloadavg()[0]:.1f}"
        server = RedisServer()
        server.start()
        try:
            ingested = ingest_figures(args.cache_dir, count, server, args.repeat)
        finally:
            server.close()
        measured = end_to_end.measure(args.cache_dir, count, args.workers, args.repeat)
        rows.append(
            [f"{count:,}", f"{measured.expected.total:,}", load, *ingested, *end_to_end_figures(measured)]
        )
        console.print(" | ".join(rows[-1]), highlight=False)  # a later size that fails loses none of it
        if args.delete_data:
            path = measured.data.path
            for generated in (path, path.with_name(path.name + ".json")):
                generated.unlink(missing_ok=True)
    notes = [
        f"median of {args.repeat} interleaved run(s) per side and size; {args.workers} worker processes; "
        "load: the 1-minute load average when the size started (2 shared cores)",
        "ingest: ingest.py's floor (polars read + normalise + dedup) → ours (planner.submit to frozen "
        "batches in Redis); peak RSS: VmHWM of ours' submitting process, the largest of the runs",
        "end to end: end_to_end.py's floor (one asyncio process, no Redis) → ours (submit + workers already "
        "running, until completed), simulator rates lifted, 0 ms latency; every run checked exactly-once by "
        "the simulator's ledger",
        "CPU per 1M: CPU seconds per million numbers sent; ours by process (submitting process + worker "
        "processes + redis-server); the simulator's in brackets, not counted in the ratio",
        "Redis: used_memory (INFO memory) over the fresh server's own before the submit: its peak during the "
        "run (Redis' used_memory_peak) / when the campaign completed (the batches and journals stay until "
        "retention); per number sent",
    ]
    result = Result("growth: 1M / 10M / 30M rows side by side", COLUMNS, rows, notes)
    publish(result, machine, not args.no_record)


def cli() -> None:
    keep_freed_memory()  # ours' submit runs in this process (end_to_end.measure), as the CLI runs it
    p = parser(__doc__.splitlines()[0])
    p.set_defaults(repeat=1)
    p.add_argument(
        "--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000, 30_000_000], help="rows per size"
    )
    p.add_argument("--workers", type=int, default=2, help="worker processes of ours (default 2)")
    p.add_argument("--delete-data", action="store_true", help="remove each generated file once measured")
    main(p.parse_args())


if __name__ == "__main__":
    cli()
