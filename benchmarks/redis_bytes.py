"""How many bytes of Redis does a campaign keep per number while it runs, once it ended, and after retention?

    PYTHONPATH=$PWD python benchmarks/redis_bytes.py [--recipients 100000] [--workers 2] [--no-record]

One campaign (smart message, plain-SMS fallback) against the simulator in its own process, with a status
report for every number posted to a real ``koodispatch receipts`` process, on a fresh private Redis with
real workers. Redis' own ``MEMORY USAGE`` (all samples) of every key of the campaign (``kd:{cid}:*``), of
the task-id map (``kd:task:*``, shared, expires after 4 days) and of the index of numbers messaged
(``kd:reach:*``, opt-outs; shared, expires after ``receipts.opt_out_window_days``) is summed by key kind:
  running  the largest total seen while the campaign sends (sampled every second)
  ended    once it completed and every status report came in: the most it holds
  purged   after ``koodispatch purge ID`` (what retention leaves: the summary)
Goals: ≤ 40 bytes a number running and ended; 0 bytes of per-number data after retention.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import redis
from _common import bench_spec, dataset, parser, stopped_on_exit, wait_until
from _report import Machine, Result, publish
from _sim import engine_env, sim_call, simulator_process, submit

from engine.cli.service import worker_processes
from engine.provider.callbacks import receipt_url
from engine.runtime.redis_server import RedisServer, free_port
from engine.store.connection import open_queue

GOAL: Final = 40.0
REPORTS_WAIT: Final = 1800.0  # seconds
TOKEN: Final = secrets.token_urlsafe(24)
SUMMARY: Final = frozenset({"campaign", "counters", "timeline", "batches_done", "epoch"})
COLUMNS: Final = ["phase", "bytes", "bytes / number", "per-number bytes / number", "largest kinds"]


def kind_of(key: str) -> str:
    """The kind of a key: ``kd:{cid}:delivery:7:smart`` → ``delivery``, ``kd:task:x`` → ``task``."""
    if key.startswith(("kd:task:", "kd:reach:")):
        return key.split(":")[1]
    return re.sub(r"^kd:\{[^}]*\}:", "", key).split(":")[0]


def usage(client: redis.Redis, cid: str) -> Counter[str]:
    """Bytes by key kind: the campaign's keys, the task-id map and the opt-out index of numbers messaged."""
    sizes: Counter[str] = Counter()
    for pattern in (f"kd:{{{cid}}}:*", "kd:task:*", "kd:reach:*"):
        for raw in client.scan_iter(match=pattern, count=1000):
            key = raw.decode()
            sizes[kind_of(key)] += int(client.memory_usage(key, samples=0) or 0)
    return sizes


def row(phase: str, sizes: Counter[str], numbers: int) -> list[str]:
    total = sum(sizes.values())
    detail = sum(v for k, v in sizes.items() if k not in SUMMARY)
    largest = ", ".join(f"{k} {v / numbers:.1f}" for k, v in sizes.most_common(4))
    return [phase, f"{total:,}", f"{total / numbers:.1f}", f"{detail / numbers:.1f}", largest]


def receipts_process(url: str, env: Mapping[str, str], logs: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "receipts", "--port", str(port)],
        env={**env, "REDIS_URL": url, "KOODISPATCH_RECEIPTS_TOKEN": TOKEN},
        stdout=subprocess.PIPE,
        stderr=(logs / "receipts.log").open("wb"),
    )
    assert proc.stdout is not None
    proc.stdout.readline()  # "listening on ..."
    return proc, f"http://127.0.0.1:{port}"


def main(args: argparse.Namespace) -> None:
    machine = Machine.current()
    data = dataset(args.cache_dir, args.recipients, "csv")
    logs = args.cache_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    server = RedisServer()
    server.start()
    try:
        with simulator_process(logs) as sim:
            env = {**os.environ, **engine_env(sim.url)}
            proc, base = receipts_process(server.url, env, logs)
            with stopped_on_exit(proc):
                sim_call(sim.url, "/_simulator/config", {"callbacks": {
                    "smart_batch_url": receipt_url(base, TOKEN, "smart"),
                    "sms_url": receipt_url(base, TOKEN, "sms"),
                    "delay_ms": [0, 100],
                }})  # fmt: skip
                rows = measure(server.url, env, logs, data.path, args.workers)
    finally:
        server.close()
    notes = [
        f"{data.imported:,} numbers imported ({data.rows:,} rows), {args.workers} workers; MEMORY USAGE "
        "SAMPLES 0 of every key; bytes / number = all of it, per-number = without the summary "
        f"({', '.join(sorted(SUMMARY))}); kinds in bytes / number",
        f"goal: ≤ {GOAL:g} bytes / number while running; 0 per-number bytes after retention (purged: "
        "without task and reach, which expire on their own after 4 days and the opt-out window)",
    ]
    publish(Result("Redis bytes per number", COLUMNS, rows, notes), machine, not args.no_record)


def measure(url: str, env: Mapping[str, str], logs: Path, path: Path, workers: int) -> list[list[str]]:
    client = redis.Redis.from_url(url)
    with worker_processes(workers, url, env, logs) as procs:
        wait_until(lambda: len(client.client_list()) > workers + 1, procs, "the workers to connect")
        cid, numbers = asyncio.run(_submit(url, path))
        peak: Counter[str] = Counter()
        while client.hget(f"kd:{{{cid}}}:campaign", "state") != b"completed":
            sizes = usage(client, cid)
            peak = sizes if sum(sizes.values()) > sum(peak.values()) else peak
            time.sleep(1.0)
    deadline = time.monotonic() + REPORTS_WAIT
    while not _all_reported(client, cid):  # the simulator posts ~5k receipts a second at most
        if time.monotonic() > deadline:
            raise RuntimeError("timed out waiting for every status report")
        time.sleep(0.5)
    ended = usage(client, cid)
    subprocess.run(
        [sys.executable, "-m", "engine.cli", "purge", cid], env={**env, "REDIS_URL": url}, check=True
    )
    purged = usage(client, cid)
    for shared in ("task", "reach"):  # expire on their own: 4 days after a send, the opt-out window
        purged.pop(shared, None)
    return [
        row("running (largest)", peak, numbers),
        row("ended", ended, numbers),
        row("purged", purged, numbers),
    ]


def _all_reported(client: redis.Redis, cid: str) -> bool:
    c = {k.decode(): int(v) for k, v in client.hgetall(f"kd:{{{cid}}}:counters").items()}
    return all(
        c.get(f"delivered:{ch}", 0) + c.get(f"undelivered:{ch}", 0) >= c.get(f"sent:{ch}", 0)
        for ch in ("smart", "sms")
    )


async def _submit(url: str, path: Path) -> tuple[str, int]:
    queue = await open_queue(url)
    try:
        result = await submit(queue, bench_spec(), path)
    finally:
        await queue.aclose()
    return result.cid, int(result.counts["accepted"])


if __name__ == "__main__":
    p = parser(__doc__ or "")
    p.add_argument("--recipients", type=int, default=100_000)
    p.add_argument("--workers", type=int, default=2)
    main(p.parse_args())
