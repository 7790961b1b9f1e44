"""How long after ``kill -9`` of a worker does its batch run again on another worker?

    python benchmarks/takeover.py [--repeat 3] [--recipients 2000] [--job-timeout 30] [--max-wait 120]
                                  [--no-record]
    python benchmarks/takeover.py --kills 60 [--interval 2-4] [--recipients 130000] [--no-record]

Measured from outside, as an operator would see it, ``--repeat`` times, each on a fresh private Redis:
two real ``koodispatch worker`` processes, then a campaign (batches of 1,000 numbers, the smart budget
lowered to 300 numbers/s so each batch sends for seconds; simulator in its own process, 50 ms per call).
Once a batch lease (``kd:{cid}:lease:<n>``) holds a token of worker A (``host:pid:rand``) and the batch
has begun sending (its journal is not empty), A gets SIGKILL. The clock runs from the kill until
  lease retaken     the same lease key holds a token of another process, and
  running again     that batch's journal changed as well (a call was journaled, or an in-flight one
                    reconciled): the batch really runs again.
Goal: running again ≤ 10 s. arq alone would bring a job of a dead worker back only once its in-progress
key expired (job_timeout + 10 s; ``--job-timeout`` sets the workers' job timeout, default 30 s); a kill not
recovered within ``--max-wait`` is reported as such.

``--kills N`` measures a crash loop instead: one campaign, three workers, a random one killed every
``--interval`` seconds (and replaced at once) N times; each kill is timed until every batch the victim held
has another holder or is finished. Reported: min / median / max over the kills; the goal is judged on the
slowest, and the campaign must complete.
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final, cast

import redis
import uvloop
from _common import bench_spec, console, dataset, median_of, parser, wait_until
from _report import Machine, Result, goal, publish
from _sim import engine_env, sim_call, simulator_process, submit

from engine.cli.service import start_worker, worker_processes
from engine.runtime.redis_server import RedisServer
from engine.runtime.settings import load_settings
from engine.store import keys
from engine.store.connection import open_queue

GOAL_SECONDS: Final = 10.0
POLL: Final = 0.02  # seconds between looks at the lease and the journal: the timing resolution
BATCH_SIZE: Final = 1000
# numbers/s for all workers: a batch of 1,000 sends for seconds, so it is killed mid-run; yet a successor's
# first call does not queue for seconds behind the surviving worker's calls (at 100/s, 1 s of budget per
# 100-number call, it did: up to 5 s of budget wait on top of the takeover)
SMART_RATE: Final = 300.0
LATENCY_MS: Final = "50"
COLUMNS: Final = ["kills", "lease retaken min / median / max", "running again min / median / max", "≤ 10 s"]


@dataclass(frozen=True)
class Takeover:
    """Seconds from the kill to the lease held by another process, and to the batch's journal moving;
    None when it did not happen within the wait."""

    lease: float | None
    running: float | None


def pid_of(token: object) -> int | None:
    """The process id in a lease token ``host:pid:rand`` (engine.state.lease.holder_token), as Redis returns
    it (None when the key does not exist)."""
    return int(token.rsplit(b":", 2)[1]) if isinstance(token, bytes) else None


async def submitted(url: str, path: Path) -> tuple[str, int]:
    """Submit the campaign in batches of BATCH_SIZE; its id and number of batches."""
    queue = await open_queue(url)
    try:
        result = await submit(queue, bench_spec(), path, load_settings(dispatch={"batch_size": BATCH_SIZE}))
    finally:
        await queue.aclose()
    return result.cid, result.batches


def victim(client: redis.Redis, cid: str, batches: int, pids: set[int]) -> tuple[int, int] | None:
    """A batch whose lease one of ``pids`` holds and whose journal is not empty: (pid, batch), or None."""
    tokens = cast("list[bytes | None]", client.mget([keys.lease(cid, n) for n in range(batches)]))
    for number, token in enumerate(tokens):
        pid = pid_of(token)
        if pid in pids and client.hlen(keys.journal(cid, number)):
            return pid, number
    return None


def watch_takeover(client: redis.Redis, cid: str, batch: int, dead: int, max_wait: float) -> Takeover:
    """Poll the lease and the journal of ``batch`` right after its holder ``dead`` was killed."""
    killed = time.monotonic()
    journal = client.hgetall(keys.journal(cid, batch))
    lease: float | None = None
    while (elapsed := time.monotonic() - killed) < max_wait:
        if lease is None and pid_of(client.get(keys.lease(cid, batch))) not in (None, dead):
            lease = elapsed
        if lease is not None and client.hgetall(keys.journal(cid, batch)) != journal:
            return Takeover(lease, elapsed)
        time.sleep(POLL)
    return Takeover(lease, None)


def one_kill(path: Path, env: dict[str, str], logs: Path, max_wait: float) -> Takeover:
    """Fresh Redis, two workers, one campaign, one SIGKILL: the takeover it took."""
    server = RedisServer()
    server.start()
    try:
        with (
            worker_processes(2, server.url, env, logs) as procs,
            redis.Redis.from_url(server.url) as client,
        ):
            wait_until(lambda: len(client.client_list()) > len(procs), procs, "the workers to connect")
            cid, batches = uvloop.run(submitted(server.url, path))
            by_pid = {proc.pid: proc for proc in procs}
            pid, batch = wait_until(
                lambda: victim(client, cid, batches, set(by_pid)), procs, "a worker to start sending a batch"
            )
            by_pid[pid].kill()  # SIGKILL: no handler runs, the lease is left to expire
            return watch_takeover(client, cid, batch, pid, max_wait)
    finally:
        server.close()


def spread(values: list[float | None], max_wait: float) -> str:
    """min / median / max of the recovered kills, plus how many were not recovered in time."""
    done = [v for v in values if v is not None]
    shown = " / ".join(f"{v:.2f}" for v in (min(done), median_of(done), max(done))) + " s" if done else "—"
    missing = len(values) - len(done)
    return shown + (f"; {missing} not within {max_wait:g} s" if missing else "")


def held_by(client: redis.Redis, cid: str, pid: int) -> dict[int, bytes]:
    """The batches of ``cid`` whose lease process ``pid`` holds now, with its tokens."""
    runs = cast("dict[bytes, bytes]", client.hgetall(keys.RUNNING))
    fields = {field.decode().rpartition(":"): token for field, token in runs.items()}
    return {
        int(batch): token
        for (owner, _, batch), token in fields.items()
        if owner == cid and pid_of(token) == pid
    }


def taken_over(client: redis.Redis, cid: str, batch: int, dead: bytes) -> bool:
    """``batch`` has a holder other than ``dead``, or is finished."""
    holder = client.get(keys.lease(cid, batch))
    return (holder is not None and holder != dead) or bool(
        client.sismember(keys.batches_done(cid), str(batch))
    )


def crash_loop(
    args: argparse.Namespace, path: Path, env: dict[str, str], logs: Path
) -> tuple[list[float | None], int]:
    """Fresh Redis, three workers, one campaign, ``args.kills`` SIGKILLs: the takeover time of each kill
    whose victim held a batch, and how many victims held none."""
    rng = random.Random(args.kills)
    low, high = args.interval
    server = RedisServer()
    server.start()
    procs = [start_worker(server.url, env, logs / f"loop-{i}.log") for i in range(3)]
    watches: list[tuple[float, dict[int, bytes]]] = []  # (killed at, batches the victim held)
    times: list[float | None] = []
    idle = 0  # kills of a worker that held no batch at that moment: nothing to take over
    try:
        with redis.Redis.from_url(server.url) as client:
            wait_until(lambda: len(client.client_list()) > len(procs), procs, "the workers to connect")
            cid, _ = uvloop.run(submitted(server.url, path))
            next_kill = time.monotonic() + rng.uniform(low, high)
            while len(times) + idle < args.kills and client.hget(keys.campaign(cid), "state") != b"completed":
                now = time.monotonic()
                for watch in list(watches):
                    killed, held = watch
                    if all(taken_over(client, cid, b, token) for b, token in held.items()):
                        watches.remove(watch)
                        times.append(now - killed)
                    elif now - killed > args.max_wait:
                        watches.remove(watch)
                        times.append(None)
                if now >= next_kill and len(times) + idle + len(watches) < args.kills:
                    victim = procs.pop(rng.randrange(len(procs)))
                    held = held_by(client, cid, victim.pid)
                    victim.kill()
                    victim.wait()
                    procs.append(start_worker(server.url, env, logs / f"loop-{len(times) + idle + 3}.log"))
                    if held:
                        watches.append((time.monotonic(), held))
                    else:
                        idle += 1
                    next_kill = time.monotonic() + rng.uniform(low, high)
                time.sleep(POLL)
    finally:
        for proc in procs:
            proc.kill()
        server.close()
    return times, idle


def main(args: argparse.Namespace) -> None:
    machine = Machine.current()
    data = dataset(args.cache_dir, args.recipients, "csv")
    logs = args.cache_dir / "logs"  # simulator and worker logs of the latest run, for when one fails
    logs.mkdir(parents=True, exist_ok=True)
    with simulator_process(logs, latency_ms=LATENCY_MS) as sim:
        env = engine_env(sim.url, {"smart": SMART_RATE}, DISPATCH__JOB_TIMEOUT=f"{args.job_timeout:g}")
        if args.kills:
            result = crash_loop_result(args, data.rows, *crash_loop(args, data.path, env, logs))
        else:
            result = single_kills_result(args, data.rows, single_kills(args, data.path, env, logs, sim.url))
    publish(result, machine, not args.no_record)


def single_kills(
    args: argparse.Namespace, path: Path, env: dict[str, str], logs: Path, sim: str
) -> list[Takeover]:
    """``args.repeat`` runs of :func:`one_kill`, the simulator reset before each."""
    takeovers: list[Takeover] = []
    for i in range(1, args.repeat + 1):
        sim_call(sim, "/_simulator/reset", {})
        takeovers.append(one_kill(path, env, logs, args.max_wait))
        console.print(f"kill {i}/{args.repeat}: {takeovers[-1]}", highlight=False)
    return takeovers


def single_kills_result(args: argparse.Namespace, rows: int, takeovers: list[Takeover]) -> Result:
    running = [t.running for t in takeovers]
    worst = max((r if r is not None else float("inf")) for r in running)
    row = [
        str(len(takeovers)),
        spread([t.lease for t in takeovers], args.max_wait),
        spread(running, args.max_wait),
        goal(worst, GOAL_SECONDS),
    ]
    notes = [
        "seconds from SIGKILL of the worker holding a sending batch's lease until another process holds "
        "that lease / until the batch's journal changes too; lease and journal polled every 20 ms",
        f"2 worker processes, {rows:,} recipient rows in batches of {BATCH_SIZE:,}, smart budget "
        f"{SMART_RATE:g} numbers/s, simulator {LATENCY_MS} ms per call; goal judged on the slowest kill",
        f"workers' job_timeout {args.job_timeout:g} s: arq alone would re-run a dead worker's job after "
        f"job_timeout + 10 s = {args.job_timeout + 10:g} s",
    ]
    return Result("takeover: kill -9 of a worker → its batch runs again", COLUMNS, [row], notes)


def crash_loop_result(args: argparse.Namespace, rows: int, times: list[float | None], idle: int) -> Result:
    worst = max((t if t is not None else float("inf")) for t in times) if times else float("inf")
    row = [
        f"{len(times) + idle} ({len(times)} holding batches)",
        spread(times, args.max_wait),
        goal(worst, GOAL_SECONDS),
    ]
    low, high = args.interval
    notes = [
        f"a random one of 3 workers killed (SIGKILL) every {low:g}–{high:g} s and replaced at once; each "
        "kill timed until every batch it held has another holder or is finished; goal: the slowest",
        f"{rows:,} recipient rows in batches of {BATCH_SIZE:,}, smart budget {SMART_RATE:g} numbers/s, "
        f"simulator {LATENCY_MS} ms per call",
    ]
    columns = ["kills", "taken over min / median / max", "≤ 10 s"]
    return Result("takeover in a crash loop", columns, [row], notes)


def interval(text: str) -> tuple[float, float]:
    """``A-B`` seconds, A ≤ B."""
    low, _, high = text.partition("-")
    bounds = float(low), float(high or low)
    if not 0 < bounds[0] <= bounds[1]:
        raise argparse.ArgumentTypeError(f"{text!r}: expected A-B seconds with 0 < A <= B")
    return bounds


def cli() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--recipients", type=int, default=2_000, help="rows in the recipient file (2k)")
    p.add_argument(
        "--job-timeout", type=float, default=30.0, help="arq job_timeout of the workers, seconds (30)"
    )
    p.add_argument(
        "--max-wait", type=float, default=120.0, help="give up on one kill after this many seconds (120)"
    )
    p.add_argument("--kills", type=int, default=0, help="crash-loop mode: kill a worker this many times")
    p.add_argument(
        "--interval", type=interval, default=(2.0, 4.0), help="crash loop: seconds between kills, A-B (2-4)"
    )
    main(p.parse_args())


if __name__ == "__main__":
    cli()
