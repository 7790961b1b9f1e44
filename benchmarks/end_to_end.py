"""How much slower than a bare aiohttp loop making the same provider calls is the whole engine, end to end?

    python benchmarks/end_to_end.py [--recipients 1000000] [--workers 2] [--repeat 3] [--no-record]

Against one provider simulator in its own process (rate limits lifted, no latency), in the same run:
  floor  one process, no Redis: the ingest floor, then for each 5000-number batch capability checks of
         ≤100, smart sends of ≤100 to the capable numbers and plain SMS of ≤500 to the rest, through our
         own signed client (KooMessageClient on ProviderHttp) with the engine's concurrency shape
  ours   ``planner.submit`` plus N already-running ``koodispatch worker`` processes on a private Redis
         (engine rate budgets lifted to 1e9/s) until the campaign is completed
The simulator's ledger must show, for each run, no duplicate and every number sent exactly once on the
channel its capability decides. Goal: ours ≤ 1.3× the floor's time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import urllib.request
from collections.abc import Awaitable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar, get_args

import orjson
import polars as pl
import redis
import uvloop
from _common import (
    Dataset,
    Machine,
    Result,
    Stopwatch,
    bench_spec,
    child_argv,
    dataset,
    floor_recipients,
    goal,
    interleaved,
    median_of,
    parser,
    per_second,
    process_cpu,
    publish,
    ratio,
    report_to_parent,
    run_child,
    seconds,
    stopped_on_exit,
    wait_until,
)

from engine import keys, planner
from engine.batches import Batch, iter_batches
from engine.cli.service import worker_processes
from engine.dispatch import CHUNKS_IN_PARALLEL
from engine.provider.http import ProviderHttp
from engine.provider.koomessage import KooMessageClient
from engine.provider.limits import CAPABILITY_MAX_MOBILES
from engine.provider.smsapi import SmsApiClient
from engine.queue import open_queue
from engine.records import TERMINAL, CampaignState, chunk_ref
from engine.redis_server import RedisServer, free_port
from engine.report import build_report
from engine.senders import Chunk, Sender, SmartSender, cut, fallback_sender
from engine.settings import Settings, load_settings
from engine.simulator.capability import is_capable
from engine.types import Channel

T = TypeVar("T")
TIME_GOAL: Final = 1.3
LIFTED_RATE: Final = "1e9"
POLL_SECONDS: Final = 0.05  # how often the parent looks for the campaign's end: its timing resolution
FLOOR_CID: Final = "bench-" + "0" * 16  # as long as a derived campaign id, so request bodies match in size
COLUMNS: Final = [
    "recipients", "numbers sent", "workers",
    "floor", "floor numbers/s", "ours", "ours numbers/s",
    "ours/floor", "time ≤ 1.3×", "CPU floor → ours", "simulator CPU", "ledger floor", "ledger ours",
]  # fmt: skip
# urllib without proxies: admin calls must go to the loopback simulator, whatever http_proxy says
LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# -- the simulator, in its own process --------------------------------------------------------------------


def sim_call(url: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
    """GET (or POST ``body``) one ``/_simulator/*`` admin endpoint; returns the decoded JSON."""
    data = None if body is None else orjson.dumps(dict(body))
    with LOCAL.open(urllib.request.Request(url + path, data=data), timeout=30) as answer:
        return orjson.loads(answer.read())


@dataclass(frozen=True)
class Simulator:
    """The running simulator process: where it answers, and its pid to read its CPU time."""

    url: str
    pid: int


@contextmanager
def simulator_process(logs: Path) -> Iterator[Simulator]:
    """``koodispatch simulate`` with every rate lifted and no latency, on loopback.

    Its own process, so the simulator does not share a GIL with whatever is being measured.
    """
    port = free_port()
    lifted = ["--smart-rate", "0", "--sms-rate", "0", "--basic-rate", "0", "--capability-rate", "0"]
    argv = [sys.executable, "-m", "engine.cli", "simulate", "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with (
        (logs / "simulator.log").open("wb") as log,
        subprocess.Popen(
            [*argv, *lifted, "--latency-ms", "0", "--seed", "1"], stdout=log, stderr=log
        ) as proc,
        stopped_on_exit(proc),
    ):
        wait_until(lambda: _answers(url), [proc], "the simulator to answer")
        yield Simulator(url, proc.pid)


def _answers(url: str) -> bool:
    try:
        return bool(sim_call(url, "/_simulator/health").get("ok"))
    except OSError:
        return False


def engine_env(sim_url: str) -> dict[str, str]:
    """Settings of every engine process (floor and workers alike): the simulator, budgets lifted."""
    lifted = {f"KOODISPATCH_RATES__{channel.upper()}": LIFTED_RATE for channel in get_args(Channel)}
    return {
        "KOODISPATCH_PROVIDER__KOOMESSAGE_URL": sim_url,
        "KOODISPATCH_PROVIDER__SMSAPI_URL": sim_url,
        **lifted,
    }


# -- the ledger -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """The split the simulator's capability verdicts force: which numbers get smart, which get SMS."""

    capable: int
    total: int


def expected_split(data: Dataset, sim_url: str) -> Expected:
    """Count capable numbers with the simulator's own deterministic verdict function and live share."""
    share = float(sim_call(sim_url, "/_simulator/config")["capable_share"])
    numbers = floor_recipients(data.path, [])["mobile"].cast(pl.Utf8)
    return Expected(sum(is_capable(n, share) for n in numbers), len(numbers))


@dataclass(frozen=True)
class LedgerCheck:
    """What the simulator accepted during one run, judged against the expected split."""

    unique: dict[str, int]
    duplicates: int
    calls: dict[str, int]
    expected: Expected

    @classmethod
    def read(cls, sim_url: str, expected: Expected, side: str) -> LedgerCheck:
        """The ledger after one side's run; a run that broke "exactly once" fails the benchmark."""
        ledger = sim_call(sim_url, "/_simulator/ledger")
        channels = ("smart", "sms", "basic")
        check = cls(
            unique={c: ledger[c]["unique"] for c in channels},
            duplicates=sum(ledger[c]["duplicates"] for c in channels),
            calls={c: n for c, n in ledger["calls"].items() if n},
            expected=expected,
        )
        if not check.once:
            raise RuntimeError(f"{side}: the simulator's ledger breaks exactly-once: {check.verdict()}")
        return check

    @property
    def once(self) -> bool:
        """Every number exactly once: smart to each capable one, SMS to each other one, nothing else."""
        e = self.expected
        return self.duplicates == 0 and self.unique == {
            "smart": e.capable,
            "sms": e.total - e.capable,
            "basic": 0,
        }

    def verdict(self) -> str:
        if self.once:
            return "✓ 0 dup, each once"
        return f"✗ {self.duplicates} dup, {self.unique}"


# -- floor: the same calls from one bare asyncio process --------------------------------------------------


class FloorRun:
    """The engine's provider calls without the engine: no Redis, no journal, no budget, no retries.

    Same batches, same calls in the same order within a batch, same concurrency shape: ``workers ×
    worker_concurrency`` batches at once, capability checks one after another within a batch, up to
    CHUNKS_IN_PARALLEL sends per stage, ``max_in_flight`` calls per channel.
    """

    def __init__(self, settings: Settings, workers: int, koo: KooMessageClient, smsapi: SmsApiClient) -> None:
        spec = bench_spec()
        self.spec = spec
        self.koo = koo
        fallback = fallback_sender(spec, koo, smsapi, settings.provider.sms_api)
        assert fallback is not None
        self.senders: tuple[Sender, Sender] = (SmartSender(koo, spec), fallback)
        self.jobs = asyncio.Semaphore(workers * settings.dispatch.worker_concurrency)
        self.slots = {c: asyncio.Semaphore(settings.rates.max_in_flight) for c in get_args(Channel)}

    async def call(self, channel: Channel, op: Awaitable[T]) -> T:
        async with self.slots[channel]:
            return await op

    async def batch(self, number: int, part: pl.DataFrame) -> None:
        async with self.jobs:
            numbers = part["mobile"].cast(pl.Utf8).to_list()
            params = {c: part[c].to_list() for c in self.spec.param_columns()}
            batch = Batch(FLOOR_CID, number, numbers, params)
            capable: set[str] = set()
            tpl = self.spec.smart.template_id
            for start in range(0, len(numbers), CAPABILITY_MAX_MOBILES):
                chunk = numbers[start : start + CAPABILITY_MAX_MOBILES]
                capable.update(
                    (await self.call("capability", self.koo.check_capability(chunk, tpl))).supported
                )
            smart = [i for i, n in enumerate(numbers) if n in capable]
            others = [i for i, n in enumerate(numbers) if n not in capable]
            for sender, indices in zip(self.senders, (smart, others), strict=True):
                await self.stage(sender, batch, indices)

    async def stage(self, sender: Sender, batch: Batch, indices: list[int]) -> None:
        prefix = chunk_ref(batch.cid, batch.number, sender.stage, 0).rsplit(":", 1)[0]
        gate = asyncio.Semaphore(CHUNKS_IN_PARALLEL)

        async def one(chunk: Chunk) -> None:
            async with gate:
                await self.call(sender.channel, sender.send(chunk, batch))

        await asyncio.gather(*(one(chunk) for chunk in cut(prefix, indices, sender.chunk_size)))


def measure_floor(path: Path, workers: int) -> None:
    """Child side: ingest floor + every provider call; the parent gave us the simulator in our env."""
    settings = load_settings()

    async def go() -> None:
        with Stopwatch() as watch:
            frame = floor_recipients(path, bench_spec().param_columns())
            async with ProviderHttp(settings) as http:
                run = FloorRun(
                    settings,
                    workers,
                    KooMessageClient.from_settings(http, settings),
                    SmsApiClient.from_settings(http, settings),
                )
                parts = iter_batches(frame, settings.dispatch.batch_size)
                await asyncio.gather(*(run.batch(n, part) for n, part in enumerate(parts)))
        report_to_parent({"seconds": watch.seconds, "cpu": watch.cpu})  # what was sent: see the ledger

    uvloop.run(go())


# -- ours: submit + real worker processes -----------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One side's run: wall seconds; CPU seconds of its own processes and of the simulator in that time;
    the Redis commands it sent (none for the floor); the ledger."""

    seconds: float
    cpu: float
    sim_cpu: float
    redis_commands: int
    ledger: LedgerCheck


def run_ours(data: Dataset, sim_url: str, workers: int, logs: Path) -> tuple[float, float, int]:
    """A fresh private Redis, N workers already up, then the clock runs from submit to completed.

    Returns wall seconds, CPU seconds of submitter + workers + redis-server in that window, and the
    Redis commands of the run (INFO commandstats).
    """
    server = RedisServer()
    server.start()
    try:
        with (
            worker_processes(workers, server.url, engine_env(sim_url), logs) as procs,
            redis.Redis.from_url(server.url) as client,  # this connection plus one per worker
        ):
            wait_until(lambda: len(client.client_list()) > workers, procs, "the workers to connect")
            assert server.process is not None
            pids = [server.process.pid, *(proc.pid for proc in procs)]
            before = sum(process_cpu(pid) for pid in pids)
            with Stopwatch() as watch:
                uvloop.run(submit_and_wait(server.url, data.path, procs))
            cpu = watch.cpu + sum(process_cpu(pid) for pid in pids) - before
            commands = sum(stat["calls"] for stat in client.info("commandstats").values())
            return watch.seconds, cpu, commands
    finally:
        server.close()


async def submit_and_wait(url: str, path: Path, procs: list[subprocess.Popen[bytes]]) -> None:
    """Submit the campaign and poll its state until it ends; fail if a worker dies on the way."""
    terminal = {state.value.encode() for state in TERMINAL}
    queue = await open_queue(url)
    try:
        result = await planner.submit(queue, load_settings(), bench_spec(), path)
        while await queue.hget(keys.campaign(result.cid), "state") not in terminal:  # type: ignore[misc]
            if any(proc.poll() is not None for proc in procs):
                raise RuntimeError("a worker process exited during the run")
            await asyncio.sleep(POLL_SECONDS)
        report = await build_report(queue, result.cid)
    finally:
        await queue.aclose()
    if report.state != CampaignState.COMPLETED.value:
        raise RuntimeError(f"campaign ended {report.state}: {report.reason}")


# -- parent -----------------------------------------------------------------------------------------------


def main(args: argparse.Namespace) -> None:
    machine = Machine.current()
    data = dataset(args.cache_dir, args.recipients, "csv")
    logs = args.cache_dir / "logs"  # simulator and worker logs of the latest run, for when one fails
    logs.mkdir(parents=True, exist_ok=True)
    with simulator_process(logs) as sim:
        expected = expected_split(data, sim.url)
        env = {**os.environ, **engine_env(sim.url)}
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
            elapsed, cpu, commands = run_ours(data, sim.url, args.workers, logs)
            sim_cpu = process_cpu(sim.pid) - sim_before
            return Run(elapsed, cpu, sim_cpu, commands, LedgerCheck.read(sim.url, expected, "ours"))

        floors, ourses = interleaved("end to end", args.repeat, floor, ours)
    publish(summarise(args, data, expected, floors, ourses), machine, not args.no_record)


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
        cpu_change([r.sim_cpu for r in floors], [r.sim_cpu for r in ourses]),
        floors[0].ledger.verdict(), ourses[0].ledger.verdict(),  # the same in every run, or we failed
    ]  # fmt: skip
    notes = [
        f"median of {args.repeat} interleaved run(s) per side; numbers/s = distinct valid numbers / seconds",
        "floor: ingest floor + the same provider calls from one asyncio process, no Redis; "
        "ours: planner.submit + workers already running, until the campaign is completed",
        f"provider calls per channel (simulator ledger) {same_calls}: {floors[0].ledger.calls}; "
        f"ours sent {per_call:.0f} Redis commands per provider call",
        "CPU: seconds the side's processes used in the timed window (floor: its process; ours: submitting "
        "process + workers + redis-server); simulator CPU: the simulator's in the same run",
        f"smart-capable {expected.capable:,} of {total:,} (simulator share); "
        "simulator: own process, rates lifted, 0 ms latency",
    ]
    return Result("end to end: file → every number sent once", COLUMNS, [row], notes)


def cpu_change(floor: list[float], ours: list[float]) -> str:
    return f"{median_of(floor):.1f} → {median_of(ours):.1f} s"


def cli() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument(
        "--recipients", type=int, default=1_000_000, help="rows in the recipient file (default 1M)"
    )
    p.add_argument("--workers", type=int, default=2, help="worker processes of ours (default 2)")
    p.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child == "floor":
        measure_floor(args.file, args.workers)
    else:
        main(args)


if __name__ == "__main__":
    cli()
