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
channel its capability decides. Goals (issue 23): ours ≤ 1.15× the floor's time (median), no interleaved
pair above 1.3×, ours' CPU (submit + workers + Redis) ≤ 1.2× the floor's. Redis' memory is read from INFO
before, at the peak of and after each run of ours. ``--task-cpu`` also prints both sides' CPU per asyncio
task kind (``_task_cpu.py``), to see where ours spends what the floor does not.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
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
from _sim import (
    EngineRun,
    Expected,
    LedgerCheck,
    RedisMemory,
    dataset_split,
    engine_env,
    run_engine,
    sim_call,
    simulator_process,
)
from _task_cpu import ENV, HOOK, OUTSIDE, read

from engine.runtime.malloc_tuning import keep_freed_memory

TIME_GOAL: Final = 1.15  # issue 23: the median ratio
PAIR_GOAL: Final = 1.3  # and no interleaved pair above it
CPU_GOAL: Final = 1.2  # ours' CPU (submit + workers + Redis) over the floor's, per number sent
COLUMNS: Final = [
    "recipients", "numbers sent", "workers",
    "floor", "floor numbers/s", "ours", "ours numbers/s",
    "ours/floor", f"time ≤ {TIME_GOAL:g}×", f"every pair ≤ {PAIR_GOAL:g}×",
    "CPU floor → ours", "CPU ours/floor", f"CPU ≤ {CPU_GOAL:g}×", "ours CPU: submit / workers / Redis",
    "simulator CPU", "Redis peak / completed per number", "ledger floor", "ledger ours",
]  # fmt: skip
# ours' CPU by kind of process, in the order the tables show it
CPU_SPLIT: Final[tuple[Callable[[EngineRun], float], ...]] = (
    attrgetter("submit_cpu"),
    attrgetter("workers_cpu"),
    attrgetter("redis_cpu"),
)


# -- parent -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One side's run: wall seconds; CPU seconds of its own processes and of the simulator in that time;
    the ledger; for ours, the engine run itself (CPU per kind of process, Redis commands and memory)."""

    seconds: float
    cpu: float
    sim_cpu: float
    ledger: LedgerCheck
    engine: EngineRun | None = None

    @property
    def run(self) -> EngineRun:
        """The engine run of an ours side (the floor has none)."""
        assert self.engine is not None, "the floor runs no engine"
        return self.engine


@dataclass(frozen=True)
class Measured:
    """Both sides' runs on one file, interleaved, with the split of numbers the ledger was judged by."""

    data: Dataset
    expected: Expected
    floors: list[Run]
    ourses: list[Run]


def measure(
    cache_dir: Path, recipients: int, workers: int, repeat: int, tasks: Path | None = None
) -> Measured:
    """Floor and ours on the ``recipients``-row file, ``repeat`` times each, interleaved, against one
    simulator; ``tasks`` (a directory) makes both sides count their CPU per task kind into it."""
    data = dataset(cache_dir, recipients, "csv")
    logs = cache_dir / "logs"  # simulator and worker logs of the latest run, for when one fails
    logs.mkdir(parents=True, exist_ok=True)
    with simulator_process(logs) as sim:
        expected = dataset_split(data, sim.url)
        env = {**os.environ, **engine_env(sim.url), **task_cpu_env(tasks, "floor")}
        argv = child_argv(__file__, "--child", "floor", "--file", str(data.path), "--workers", str(workers))

        def floor() -> Run:
            sim_call(sim.url, "/_simulator/reset", {})
            sim_before = process_cpu(sim.pid)
            report = run_child(argv, env)
            sim_cpu = process_cpu(sim.pid) - sim_before
            ledger = LedgerCheck.read(sim.url, expected, "floor")
            return Run(report["seconds"], report["cpu"], sim_cpu, ledger)

        def ours() -> Run:
            sim_call(sim.url, "/_simulator/reset", {})
            sim_before = process_cpu(sim.pid)
            workers_env = {**engine_env(sim.url), **task_cpu_env(tasks, "ours")}
            run = run_engine(bench_spec(), data.path, workers, workers_env, logs)
            sim_cpu = process_cpu(sim.pid) - sim_before
            ledger = LedgerCheck.read(sim.url, expected, "ours")
            return Run(run.seconds, run.cpu, sim_cpu, ledger, run)

        floors, ourses = interleaved(f"end to end {recipients:,}", repeat, floor, ours)
    return Measured(data, expected, floors, ourses)


def main(args: argparse.Namespace) -> None:
    machine = Machine.current()
    tasks = Path(tempfile.mkdtemp(prefix="kd-task-cpu-")) if args.task_cpu else None
    measured = measure(args.cache_dir, args.recipients, args.workers, args.repeat, tasks)
    record = not (args.no_record or args.task_cpu)  # counting costs CPU: such runs are not the ratios
    publish(summarise(args, measured), machine, record)
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


def summarise(args: argparse.Namespace, measured: Measured) -> Result:
    floors, ourses, expected = measured.floors, measured.ourses, measured.expected
    floor_s = median_of([r.seconds for r in floors])
    ours_s = median_of([r.seconds for r in ourses])
    pair_worst = max(o.seconds / f.seconds for o, f in zip(ourses, floors, strict=True))
    cpu_ratio = median_of([r.cpu for r in ourses]) / median_of([r.cpu for r in floors])
    calls = {str(sorted(r.ledger.calls.items())) for r in floors + ourses}
    same_calls = "identical in every run" if len(calls) == 1 else "DIFFERENT between runs"
    total = expected.total
    row = [
        f"{measured.data.rows:,}", f"{total:,}", str(args.workers),
        seconds(floor_s), per_second(total, floor_s), seconds(ours_s), per_second(total, ours_s),
        ratio(ours_s, floor_s), goal(ours_s / floor_s, TIME_GOAL), goal(pair_worst, PAIR_GOAL),
        cpu_change([r.cpu for r in floors], [r.cpu for r in ourses]), f"{cpu_ratio:.2f}×",
        goal(cpu_ratio, CPU_GOAL),
        " / ".join(f"{median_of([split(r.run) for r in ourses]):.1f}" for split in CPU_SPLIT) + " s",
        cpu_change([r.sim_cpu for r in floors], [r.sim_cpu for r in ourses]),
        redis_memory([r.run.memory for r in ourses], total),
        floors[0].ledger.verdict(), ourses[0].ledger.verdict(),  # the same in every run, or we failed
    ]  # fmt: skip
    pairs = pair_ratios([r.seconds for r in ourses], [r.seconds for r in floors])
    notes = [
        f"median of {args.repeat} interleaved run(s) per side; numbers/s = distinct valid numbers / seconds",
        f"ours/floor of each interleaved pair, in run order: {pairs}",
        "floor: ingest floor + the same provider calls from one asyncio process, no Redis; "
        "ours: planner.submit + workers already running, until the campaign is completed",
        f"provider calls per channel (simulator ledger) {same_calls}: {floors[0].ledger.calls}; "
        f"ours sent {commands_per_call(ourses, floors[0].ledger.calls)}",
        "CPU: seconds the side's processes used in the timed window (floor: its process; ours: submitting "
        "process + workers + redis-server, also shown apart); simulator CPU: the simulator's in the same "
        f"run; per million numbers sent: {per_million(floors, ourses, total)}",
        "Redis: used_memory (INFO memory) over what the fresh server used before the submit, per number "
        "sent: its peak during the run (Redis' own high-water mark) / when the campaign completed",
        f"smart-capable {expected.smart:,} of {total:,} (simulator share); "
        "simulator: own process, rates lifted, 0 ms latency",
    ]
    return Result("end to end: file → every number sent once", COLUMNS, [row], notes)


def commands_per_call(ourses: list[Run], calls: dict[str, int], most: int = 12) -> str:
    """Redis commands per provider call (median over ours' runs), in all and for the commonest names."""
    count = sum(calls.values())
    names = Counter(ourses[0].run.commands)
    each = {name: median_of([r.run.commands.get(name, 0) for r in ourses]) / count for name in names}
    top = ", ".join(f"{name} {each[name]:.2f}" for name, _ in names.most_common(most))
    total = median_of([r.run.redis_commands for r in ourses]) / count
    return f"{total:.1f} Redis commands per provider call ({top})"


def per_million(floors: list[Run], ourses: list[Run], total: int) -> str:
    """CPU seconds per million numbers sent, each side's processes apart (medians over the runs)."""
    scale = 1e6 / total
    ours = [median_of([split(r.run) * scale for r in ourses]) for split in CPU_SPLIT]
    floor = median_of([r.cpu * scale for r in floors])
    floor_sim = median_of([r.sim_cpu * scale for r in floors])
    ours_sim = median_of([r.sim_cpu * scale for r in ourses])
    return (
        f"floor {floor:.2f} s (+ simulator {floor_sim:.2f}); ours {sum(ours):.2f} s = submit {ours[0]:.2f} "
        f"+ workers {ours[1]:.2f} + Redis {ours[2]:.2f} (+ simulator {ours_sim:.2f})"
    )


def redis_memory(memories: list[RedisMemory], total: int) -> str:
    """Redis' peak and completed bytes per number over its use before the run (medians)."""
    peak = median_of([m.peak - m.before for m in memories]) / total
    after = median_of([m.after - m.before for m in memories]) / total
    return f"{peak:.1f} / {after:.1f} B"


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
