"""How much slower than a bare aiohttp loop making the same provider calls is the whole engine, end to end?

    python benchmarks/end_to_end.py [--recipients 1000000] [--workers 2] [--repeat 3] [--no-record]
                                    [--task-cpu]

Against one provider simulator in its own process (rate limits lifted, no latency), in the same run:
  floor  one process, no Redis: the ingest floor, then for each 5000-number batch capability checks of
         ≤100, smart sends of ≤100 to the capable numbers and plain SMS of ≤500 to the rest, through our
         own signed client (KooMessageClient on ProviderHttp) with the engine's concurrency shape
  ours   ``planner.submit`` plus N already-running ``koodispatch worker`` processes on a private Redis
         (engine rate budgets lifted to 1e6/s, the most allowed) until the campaign is completed
The simulator's ledger must show, for each run, no duplicate and every number sent exactly once on the
channel its capability decides. Goal: ours ≤ 1.3× the floor's time. ``--task-cpu`` also prints both
sides' CPU per asyncio task kind (``_task_cpu.py``), to see where ours spends what the floor does not.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from _common import (
    Dataset,
    bench_spec,
    child_argv,
    dataset,
    interleaved,
    median_of,
    parser,
    process_cpu,
    run_child,
)
from _floor import measure_floor
from _report import Machine, Result, goal, pair_ratios, per_second, publish, ratio, seconds
from _sim import Expected, LedgerCheck, dataset_split, engine_env, run_engine, sim_call, simulator_process
from _task_cpu import ENV, HOOK, OUTSIDE, read

from engine.runtime.malloc_tuning import keep_freed_memory

TIME_GOAL: Final = 1.3
COLUMNS: Final = [
    "recipients", "numbers sent", "workers",
    "floor", "floor numbers/s", "ours", "ours numbers/s",
    "ours/floor", "time ≤ 1.3×", "CPU floor → ours", "ours CPU: submit / workers / Redis", "simulator CPU",
    "ledger floor", "ledger ours",
]  # fmt: skip


# -- parent -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One side's run: wall seconds; CPU seconds of its own processes (ours: also per kind, submitting
    process / workers / redis-server) and of the simulator in that time; the Redis commands it sent (none
    for the floor); the ledger."""

    seconds: float
    cpu: float
    sim_cpu: float
    redis_commands: int
    ledger: LedgerCheck
    cpu_split: tuple[float, float, float] = (0.0, 0.0, 0.0)


def main(args: argparse.Namespace) -> None:
    machine = Machine.current()
    data = dataset(args.cache_dir, args.recipients, "csv")
    logs = args.cache_dir / "logs"  # simulator and worker logs of the latest run, for when one fails
    logs.mkdir(parents=True, exist_ok=True)
    tasks = Path(tempfile.mkdtemp(prefix="kd-task-cpu-")) if args.task_cpu else None
    with simulator_process(logs) as sim:
        expected = dataset_split(data, sim.url)
        env = {**os.environ, **engine_env(sim.url), **task_cpu_env(tasks, "floor")}
        argv = child_argv(
            __file__, "--child", "floor", "--file", str(data.path), "--workers", str(args.workers)
        )

        def floor() -> Run:
            sim_call(sim.url, "/_simulator/reset", {})
            sim_before = process_cpu(sim.pid)
            report = run_child(argv, env)
            sim_cpu = process_cpu(sim.pid) - sim_before
            ledger = LedgerCheck.read(sim.url, expected, "floor")
            return Run(report["seconds"], report["cpu"], sim_cpu, redis_commands=0, ledger=ledger)

        def ours() -> Run:
            sim_call(sim.url, "/_simulator/reset", {})
            sim_before = process_cpu(sim.pid)
            workers_env = {**engine_env(sim.url), **task_cpu_env(tasks, "ours")}
            run = run_engine(bench_spec(), data.path, args.workers, workers_env, logs)
            sim_cpu = process_cpu(sim.pid) - sim_before
            ledger = LedgerCheck.read(sim.url, expected, "ours")
            split = (run.submit_cpu, run.workers_cpu, run.redis_cpu)
            return Run(run.seconds, run.cpu, sim_cpu, run.redis_commands, ledger, split)

        floors, ourses = interleaved("end to end", args.repeat, floor, ours)
    record = not (args.no_record or args.task_cpu)  # counting costs CPU: such runs are not the ratios
    publish(summarise(args, data, expected, floors, ourses), machine, record)
    if tasks is not None:
        publish(task_cpu_table(tasks, args.repeat), machine, record=False)
        shutil.rmtree(tasks)


def task_cpu_env(tasks: Path | None, side: str) -> dict[str, str]:
    """What makes one side's processes count their CPU per task kind into ``tasks/side`` (none without)."""
    if tasks is None:
        return {}
    (tasks / side).mkdir(exist_ok=True)
    path = os.pathsep.join(p for p in (str(HOOK), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, ENV: str(tasks / side)}


def task_cpu_table(tasks: Path, repeat: int, most: int = 15) -> Result:
    """The floor's process and ours' workers side by side, kind by kind, the costliest first."""
    floor, ours = read(tasks / "floor"), read(tasks / "ours")
    kinds = list(dict.fromkeys([*list(ours)[:most], *list(floor)[:most]]))
    rows = [[kind, *(_cell(side, kind) for side in (floor, ours))] for kind in kinds]
    rows.append(["total", *(f"{sum(cpu for cpu, _ in side.values()):.2f} s" for side in (floor, ours))])
    notes = [
        f"CPU seconds / coroutine steps per task kind (its coroutine's name), summed over {repeat} run(s): "
        "the floor's one process, ours' worker processes (the submitting process and Redis not counted)",
        f"{OUTSIDE}: the event loop's CPU outside every task step (I/O callbacks, the loop itself)",
        "counted by a task factory (benchmarks/_task_cpu.py) that costs a few per cent of CPU itself",
    ]
    return Result("end to end: CPU per asyncio task kind", ["task kind", "floor", "ours"], rows, notes)


def _cell(side: dict[str, tuple[float, int]], kind: str) -> str:
    return f"{side[kind][0]:.2f} s / {side[kind][1]:,}" if kind in side else ""


def summarise(
    args: argparse.Namespace, data: Dataset, expected: Expected, floors: list[Run], ourses: list[Run]
) -> Result:
    floor_s = median_of([r.seconds for r in floors])
    ours_s = median_of([r.seconds for r in ourses])
    calls = {str(sorted(r.ledger.calls.items())) for r in floors + ourses}
    same_calls = "identical in every run" if len(calls) == 1 else "DIFFERENT between runs"
    per_call = median_of([r.redis_commands for r in ourses]) / sum(floors[0].ledger.calls.values())
    total = expected.total
    row = [
        f"{data.rows:,}", f"{total:,}", str(args.workers),
        seconds(floor_s), per_second(total, floor_s), seconds(ours_s), per_second(total, ours_s),
        ratio(ours_s, floor_s), goal(ours_s / floor_s, TIME_GOAL),
        cpu_change([r.cpu for r in floors], [r.cpu for r in ourses]),
        " / ".join(f"{median_of([r.cpu_split[k] for r in ourses]):.1f}" for k in range(3)) + " s",
        cpu_change([r.sim_cpu for r in floors], [r.sim_cpu for r in ourses]),
        floors[0].ledger.verdict(), ourses[0].ledger.verdict(),  # the same in every run, or we failed
    ]  # fmt: skip
    pairs = pair_ratios([r.seconds for r in ourses], [r.seconds for r in floors])
    notes = [
        f"median of {args.repeat} interleaved run(s) per side; numbers/s = distinct valid numbers / seconds",
        f"ours/floor of each interleaved pair, in run order: {pairs}",
        "floor: ingest floor + the same provider calls from one asyncio process, no Redis; "
        "ours: planner.submit + workers already running, until the campaign is completed",
        f"provider calls per channel (simulator ledger) {same_calls}: {floors[0].ledger.calls}; "
        f"ours sent {per_call:.0f} Redis commands per provider call",
        "CPU: seconds the side's processes used in the timed window (floor: its process; ours: submitting "
        "process + workers + redis-server, also shown apart); simulator CPU: the simulator's in the same run",
        f"smart-capable {expected.smart:,} of {total:,} (simulator share); "
        "simulator: own process, rates lifted, 0 ms latency",
    ]
    return Result("end to end: file → every number sent once", COLUMNS, [row], notes)


def cpu_change(floor: list[float], ours: list[float]) -> str:
    return f"{median_of(floor):.1f} → {median_of(ours):.1f} s"


def cli() -> None:
    keep_freed_memory()  # in every process of either side, as the koodispatch CLI does
    p = parser(__doc__.splitlines()[0])
    p.add_argument(
        "--recipients", type=int, default=1_000_000, help="rows in the recipient file (default 1M)"
    )
    p.add_argument("--workers", type=int, default=2, help="worker processes of ours (default 2)")
    p.add_argument(
        "--task-cpu",
        action="store_true",
        help="also count CPU per asyncio task kind on both sides and print it (implies --no-record)",
    )
    p.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child == "floor":
        measure_floor(args.file, args.workers)
    else:
        main(args)


if __name__ == "__main__":
    cli()
