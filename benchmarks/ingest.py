"""How much does koodispatch add to the bare polars floor, from a recipient file to frozen batches in Redis?

    python benchmarks/ingest.py [--rows 10000000] [--xlsx-rows 200000] [--repeat 3] [--no-record]

Per input format, in the same run and each in a fresh process (so peak RSS is that measurement's own):
  floor  polars read + ``normalise_expr`` + dedup (first row per number, parameter columns kept), nothing else
  ours   ``engine.plan.planner.submit``: ingest, validation, batch packing, Redis writes and enqueue,
         against a private redis-server
Seconds exclude interpreter start and imports (a submitting process is already up); goals: time ≤ 1.3× the
floor, peak RSS ≤ 1.5 GB.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import redis
import uvloop
from _common import (
    GB,
    Dataset,
    Stopwatch,
    bench_spec,
    child_argv,
    dataset,
    floor_recipients,
    interleaved,
    median_of,
    parser,
    report_to_parent,
    run_child,
)
from _report import Machine, Result, goal, pair_ratios, per_second, publish, ratio, seconds, size

from engine.ingest.demo_data import Format
from engine.plan import planner
from engine.runtime.malloc_tuning import keep_freed_memory
from engine.runtime.redis_server import RedisServer
from engine.runtime.settings import load_settings
from engine.store.connection import open_queue

Report = dict[str, Any]  # what a measuring child printed: seconds, numbers, peak_rss
TIME_GOAL = 1.3
RSS_GOAL = 1.5 * GB
COLUMNS = [
    "input", "rows",
    "floor", "floor rows/s", "floor peak RSS",
    "ours", "ours rows/s", "ours peak RSS",
    "ours/floor", "time ≤ 1.3×", "RSS ≤ 1.5 GB",
]  # fmt: skip


# -- child side: one measurement --------------------------------------------------------------------------


def measure_floor(path: Path) -> None:
    """Child side: the bare polars floor on ``path``."""
    with Stopwatch() as watch:
        frame = floor_recipients(path, bench_spec().param_columns())
    report_to_parent({"seconds": watch.seconds, "numbers": frame.height})


def measure_ours(path: Path, redis_url: str) -> None:
    """Child side: the engine's whole submission path on ``path``, against the parent's Redis."""

    async def submit() -> None:
        queue = await open_queue(redis_url)
        try:
            settings = load_settings()
            with Stopwatch() as watch:
                result = await planner.submit(queue, settings, bench_spec(), path)
        finally:
            await queue.aclose()
        report_to_parent({"seconds": watch.seconds, "numbers": result.counts["accepted"]})

    uvloop.run(submit())  # as the CLI runs it


# -- parent side ------------------------------------------------------------------------------------------


def pairs(data: Dataset, label: str, server: RedisServer, repeat: int) -> tuple[list[Report], list[Report]]:
    """Floor and ours on one file, interleaved ``repeat`` times, ours against ``server`` emptied first."""

    def floor() -> Report:
        return checked(run_child(child_argv(__file__, "--child", "floor", "--file", str(data.path))), data)

    def ours() -> Report:
        with redis.Redis.from_url(server.url) as client:
            client.flushall()  # every submission starts from an empty Redis, as a new campaign would
        argv = child_argv(__file__, "--child", "ours", "--file", str(data.path), "--redis-url", server.url)
        return checked(run_child(argv), data)

    return interleaved(label, repeat, floor, ours)


def compare(data: Dataset, fmt: Format, server: RedisServer, repeat: int) -> tuple[list[str], str]:
    """Floor and ours on one file (:func:`pairs`); one table row of medians and peaks, and the note with
    each pair's ratio."""
    floors, ourses = pairs(data, fmt, server, repeat)
    floor_s = median_of([r["seconds"] for r in floors])
    ours_s = median_of([r["seconds"] for r in ourses])
    pair_note = pair_ratios([r["seconds"] for r in ourses], [r["seconds"] for r in floors])
    floor_rss = max(r["peak_rss"] for r in floors)
    ours_rss = max(r["peak_rss"] for r in ourses)
    row = [
        fmt, f"{data.rows:,}",
        seconds(floor_s), per_second(data.rows, floor_s), size(floor_rss),
        seconds(ours_s), per_second(data.rows, ours_s), size(ours_rss),
        ratio(ours_s, floor_s), goal(ours_s / floor_s, TIME_GOAL), goal(ours_rss, RSS_GOAL),
    ]  # fmt: skip
    return row, f"{fmt}: ours/floor of each interleaved pair, in run order: {pair_note}"


def checked(report: Report, data: Dataset) -> Report:
    """A measurement that produced a different recipient set measured something else: fail loudly."""
    if report["numbers"] != data.imported:
        raise RuntimeError(f"{data.path.name}: got {report['numbers']} numbers, expected {data.imported}")
    return report


def main(args: argparse.Namespace) -> None:
    machine = Machine.current()
    inputs: list[tuple[Format, int]] = [("csv", args.rows)] + (
        [("xlsx", args.xlsx_rows)] if args.xlsx_rows else []
    )
    datasets = [(fmt, dataset(args.cache_dir, rows, fmt)) for fmt, rows in inputs]
    server = RedisServer()
    server.start()
    try:
        compared = [compare(data, fmt, server, args.repeat) for fmt, data in datasets]
    finally:
        server.close()
    rows = [row for row, _ in compared]
    notes = [
        f"median of {args.repeat} interleaved run(s) per side; peak RSS (VmHWM) is the largest of them",
        *(pairs for _, pairs in compared),
        "floor: polars read + normalise_expr + dedup; ours: planner.submit to frozen batches + enqueue",
        "data: engine.ingest.demo_data (5% duplicates in other spellings, 2% invalid),"
        " columns mobile, name, amount",
    ]
    publish(
        Result("ingest: file → frozen batches in Redis", COLUMNS, rows, notes), machine, not args.no_record
    )


def cli() -> None:
    keep_freed_memory()  # in every process of either side, as the koodispatch CLI does
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=10_000_000, help="CSV rows (default 10M)")
    p.add_argument("--xlsx-rows", type=int, default=200_000, help="xlsx rows (default 200k; 0 = skip xlsx)")
    p.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--redis-url", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child == "floor":
        measure_floor(args.file)
    elif args.child == "ours":
        measure_ours(args.file, args.redis_url)
    else:
        main(args)


if __name__ == "__main__":
    cli()
