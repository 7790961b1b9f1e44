"""Helpers shared by the programs that send: the simulator in its own process, its ledger, the engine's
environment, and the engine run itself (a fresh private Redis, N real worker processes, submit, wait).

Each program sets its own rates and latency; the way a run is started, timed and checked stays one code.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol, get_args

import orjson
import polars as pl
import redis
import uvloop
from _common import Dataset, Stopwatch, floor_recipients, process_cpu, stopped_on_exit, wait_until
from arq.connections import ArqRedis

from engine.cli.service import worker_processes
from engine.cli.simulate import TOKEN_VARIABLE
from engine.ingest.spec import CampaignSpec
from engine.plan import planner
from engine.reports.summary import build_report
from engine.runtime.ranges import RATE
from engine.runtime.redis_server import RedisServer, free_port
from engine.runtime.settings import Settings, load_settings
from engine.simulator.capability import split_capable
from engine.simulator.handlers_admin import ADMIN_HEADER
from engine.store import keys
from engine.store.connection import open_queue
from engine.types import TERMINAL, CampaignState, Channel

LIFTED_RATE: Final = RATE.high  # far above what the engine sends end to end: its budgets never wait
# the admin token of every simulator this program starts (KOODISPATCH_SIMULATOR_TOKEN), sent with admin calls
ADMIN_TOKEN: Final = secrets.token_urlsafe(24)
# an admin call's answer may wait: after a 30M-number run under load, the simulator took over 30 s to
# answer the ledger read (its event loop and collector busy with tens of millions of objects)
ADMIN_TIMEOUT: Final = 300.0
POLL_SECONDS: Final = 0.05  # how often the parent looks for the campaign's end: its timing resolution
# urllib without proxies: admin calls must go to the loopback simulator, whatever http_proxy says
LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# -- where the processes run ------------------------------------------------------------------------------


class Placement(Protocol):
    """Where a run's services listen and its workers run: this host's loopback (:data:`LOOPBACK`), or
    hosts of the namespace harness (``_hosts.py``)."""

    address: str  # where Redis and the simulator listen

    def workers(
        self, count: int, url: str, env: Mapping[str, str], logs: Path
    ) -> AbstractContextManager[list[subprocess.Popen[bytes]]]:
        """``count`` worker processes (per worker host) on Redis ``url``, stopped on exit."""
        ...


@dataclass(frozen=True)
class Loopback:
    """Everything on this host, over loopback."""

    address: str = "127.0.0.1"

    def workers(
        self, count: int, url: str, env: Mapping[str, str], logs: Path
    ) -> AbstractContextManager[list[subprocess.Popen[bytes]]]:
        return worker_processes(count, url, env, logs)


LOOPBACK: Final = Loopback()


# -- the simulator, in its own process --------------------------------------------------------------------


def sim_call(url: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
    """GET (or POST ``body``) one ``/_simulator/*`` admin endpoint; returns the decoded JSON."""
    data = None if body is None else orjson.dumps(dict(body))
    headers = {ADMIN_HEADER: ADMIN_TOKEN, "Content-Type": "application/json"}
    request = urllib.request.Request(url + path, data=data, headers=headers)
    with LOCAL.open(request, timeout=ADMIN_TIMEOUT) as answer:
        return orjson.loads(answer.read())


@dataclass(frozen=True)
class Simulator:
    """The running simulator process: where it answers, and its pid to read its CPU time."""

    url: str
    pid: int


@contextmanager
def simulator_process(
    logs: Path, rates: Mapping[str, float] | None = None, latency_ms: str = "0", host: str = "127.0.0.1"
) -> Iterator[Simulator]:
    """``koodispatch simulate`` on ``host`` (loopback unless placed on hosts) with ``rates`` (channel →
    numbers/s; an absent channel or 0 = unlimited) and ``latency_ms`` (``MIN[-MAX]``), seeded for
    repeatable verdicts and draws.

    Its own process, so the simulator does not share a GIL with whatever is being measured.
    """
    caps = {channel: 0.0 for channel in ("smart", "sms", "basic", "capability")} | dict(rates or {})
    options = [arg for channel, rate in caps.items() for arg in (f"--{channel}-rate", f"{rate:g}")]
    port = free_port()
    argv = [sys.executable, "-m", "engine.cli", "simulate", "--host", host, "--port", str(port)]
    url = f"http://{host}:{port}"
    with (
        (logs / "simulator.log").open("wb") as log,
        subprocess.Popen(
            [*argv, *options, "--latency-ms", latency_ms, "--seed", "1"],
            stdout=log,
            stderr=log,
            env={**os.environ, TOKEN_VARIABLE: ADMIN_TOKEN},
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


def engine_env(sim_url: str, rates: Mapping[Channel, float] | None = None, **settings: str) -> dict[str, str]:
    """Settings of every engine process: the simulator, the engine's budgets (``rates``, absent channels
    lifted to 1e6/s) and any other ``KOODISPATCH_<SECTION>__<KEY>`` given as ``SECTION__KEY="value"``."""
    budgets = {channel: LIFTED_RATE for channel in get_args(Channel)} | dict(rates or {})
    return {
        "KOODISPATCH_PROVIDER__KOOMESSAGE_URL": sim_url,
        "KOODISPATCH_PROVIDER__SMSAPI_URL": sim_url,
        **{f"KOODISPATCH_RATES__{channel.upper()}": f"{rate:g}" for channel, rate in budgets.items()},
        **{f"KOODISPATCH_{name}": value for name, value in settings.items()},
    }


# -- the ledger -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """The split the simulator's capability verdicts force: how many numbers each channel must get once."""

    smart: int
    sms: int

    @property
    def total(self) -> int:
        return self.smart + self.sms


def expected_split(numbers: pl.Series, sim_url: str, fallback: bool = True) -> Expected:
    """Count capable ``numbers`` (uint64 keys) with the simulator's own verdict function and live share;
    the rest go to SMS when the campaign falls back, nowhere otherwise."""
    share = float(sim_call(sim_url, "/_simulator/config")["capable_share"])
    text = numbers.cast(pl.Utf8)
    # a million at a time through the simulator's own batch verdict: one call per number took ~1 min at 30M
    step = 1_000_000
    capable = sum(
        len(split_capable(text.slice(at, step).to_list(), share)[0]) for at in range(0, len(text), step)
    )
    return Expected(capable, len(numbers) - capable if fallback else 0)


def dataset_split(data: Dataset, sim_url: str, fallback: bool = True) -> Expected:
    """:func:`expected_split` of every distinct valid number of a recipient file."""
    return expected_split(floor_recipients(data.path, [])["mobile"], sim_url, fallback)


@dataclass(frozen=True)
class LedgerCheck:
    """What the simulator accepted during one run, judged against the expected split."""

    unique: dict[str, int]
    duplicates: int
    calls: dict[str, int]
    throttled: dict[str, int]
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
            throttled={c: n for c, n in ledger["throttled"].items() if n},
            expected=expected,
        )
        if not check.once:
            raise RuntimeError(f"{side}: the simulator's ledger breaks exactly-once: {check.verdict()}")
        return check

    @property
    def once(self) -> bool:
        """Every number exactly once on the channel its verdict decides, nothing else."""
        e = self.expected
        return self.duplicates == 0 and self.unique == {"smart": e.smart, "sms": e.sms, "basic": 0}

    def verdict(self) -> str:
        if self.once:
            return "✓ 0 dup, each once"
        return f"✗ {self.duplicates} dup, {self.unique}"


# -- the engine: submit + real worker processes -----------------------------------------------------------


@dataclass(frozen=True)
class RedisMemory:
    """``used_memory`` of a run's private Redis (``INFO memory``), in bytes: before the submit, the most it
    held (Redis' own ``used_memory_peak``: the server is fresh, so its high-water mark is the run's, and no
    sample between polls can miss it), and when the campaign completed."""

    before: int
    peak: int
    after: int

    @classmethod
    def read(cls, client: redis.Redis, before: int | None = None) -> RedisMemory:
        """Redis' memory now (``before`` defaults to its current use: a reading taken before the run)."""
        info = client.info("memory")
        used = int(info["used_memory"])
        return cls(used if before is None else before, int(info["used_memory_peak"]), used)


@dataclass(frozen=True)
class EngineRun:
    """One engine run: wall seconds from submit to completed, CPU seconds of the submitting process, the
    workers and redis-server in that window, the Redis commands sent by name (INFO commandstats: every
    client's, the submitting process' writes and state polls included) and Redis' memory."""

    seconds: float
    submit_cpu: float
    workers_cpu: float
    redis_cpu: float
    commands: dict[str, int]
    memory: RedisMemory

    @property
    def cpu(self) -> float:
        return self.submit_cpu + self.workers_cpu + self.redis_cpu

    @property
    def redis_commands(self) -> int:
        return sum(self.commands.values())


@dataclass(frozen=True)
class Fleet:
    """A fresh private Redis with ``workers`` real worker processes connected to it."""

    url: str
    procs: list[subprocess.Popen[bytes]]
    client: redis.Redis
    redis_pid: int


@contextmanager
def engine_fleet(
    workers: int, env: Mapping[str, str], logs: Path, placement: Placement = LOOPBACK
) -> Iterator[Fleet]:
    """A fresh private Redis and ``workers`` real ``koodispatch worker`` processes (per worker host when
    ``placement`` puts them on hosts), up and connected before the block runs (as in production, nothing is
    timed while they start); all stopped after it.

    ``env`` is the workers' engine settings (see :func:`engine_env`).
    """
    server = RedisServer(host=placement.address)
    server.start()
    try:
        with (
            placement.workers(workers, server.url, env, logs) as procs,
            redis.Redis.from_url(server.url) as client,  # this connection plus one per worker
        ):
            wait_until(lambda: len(client.client_list()) > len(procs), procs, "the workers to connect")
            assert server.process is not None
            yield Fleet(server.url, procs, client, server.process.pid)
    finally:
        server.close()


def check_alive(procs: list[subprocess.Popen[bytes]]) -> None:
    """Raise RuntimeError when a worker process has exited: a measured run needs every one it started."""
    if any(proc.poll() is not None for proc in procs):
        raise RuntimeError("a worker process exited during the run")


def run_engine(
    spec: CampaignSpec,
    path: Path,
    workers: int,
    env: Mapping[str, str],
    logs: Path,
    on_poll: Callable[[], None] | None = None,
    placement: Placement = LOOPBACK,
) -> EngineRun:
    """:func:`engine_fleet`, then the clock runs from ``planner.submit`` until the campaign is completed.

    ``on_poll`` runs on every poll of the campaign state (cap_utilisation samples the simulator's ledger
    there). Raises RuntimeError when a worker dies or the campaign ends other than completed.
    """
    with engine_fleet(workers, env, logs, placement) as fleet:
        worker_pids = [proc.pid for proc in fleet.procs]
        memory_before = RedisMemory.read(fleet.client).before
        fleet.client.config_resetstat()  # the commands of this run only: not the workers' start-up
        redis_before, workers_before = process_cpu(fleet.redis_pid), sum(map(process_cpu, worker_pids))
        with Stopwatch() as watch:
            uvloop.run(_submit_and_wait(fleet.url, spec, path, fleet.procs, on_poll))
        workers_cpu = sum(map(process_cpu, worker_pids)) - workers_before
        redis_cpu = process_cpu(fleet.redis_pid) - redis_before
        memory = RedisMemory.read(fleet.client, memory_before)
        stats = fleet.client.info("commandstats")
        commands = {name.removeprefix("cmdstat_"): int(stat["calls"]) for name, stat in stats.items()}
        return EngineRun(watch.seconds, watch.cpu, workers_cpu, redis_cpu, commands, memory)


async def submit(
    queue: ArqRedis, spec: CampaignSpec, path: Path, settings: Settings | None = None
) -> planner.SubmitResult:
    """``planner.submit`` as the CLI does it, with ``settings`` (default: this process's)."""
    return await planner.submit(queue, settings or load_settings(), spec, path)


async def _submit_and_wait(
    url: str,
    spec: CampaignSpec,
    path: Path,
    procs: list[subprocess.Popen[bytes]],
    on_poll: Callable[[], None] | None,
) -> None:
    terminal = {state.value.encode() for state in TERMINAL}
    queue = await open_queue(url)
    try:
        result = await submit(queue, spec, path)
        while await queue.hget(keys.campaign(result.cid), "state") not in terminal:  # type: ignore[misc]
            check_alive(procs)
            if on_poll is not None:
                on_poll()
            await asyncio.sleep(POLL_SECONDS)
        report = await build_report(queue, result.cid)
    finally:
        await queue.aclose()
    if report.state != CampaignState.COMPLETED.value:
        raise RuntimeError(f"campaign ended {report.state}: {report.reason}")
