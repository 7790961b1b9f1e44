"""Helpers of the crash tests: a submitted campaign, a fleet of real workers to kill, the ledger as judge."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen
from typing import Any

import redis.asyncio as aioredis
from arq.connections import ArqRedis

from engine import api
from engine.cli.service import start_worker
from engine.ingest.demo_data import Truth, generate_recipients
from engine.reports.summary import Report
from engine.runtime.settings import load_settings
from engine.simulator import SimulatorThread
from engine.simulator.capability import is_capable
from engine.store import keys
from engine.store.connection import open_queue
from tests.conftest import SHARE
from tests.processes import engine_env, sim_get, sim_post, spec

FAST_TAKEOVER = {
    "KOODISPATCH_DISPATCH__LEASE_SECONDS": "3",
    # a call is surely over 6 s after it began: a successor's reconciliation waits no longer than that
    "KOODISPATCH_PROVIDER__CONNECT_TIMEOUT": "1",
    "KOODISPATCH_PROVIDER__READ_TIMEOUT": "3",
    "KOODISPATCH_PROVIDER__ANSWER_GRACE": "2",
    # a killed worker's in-flight slots are freed when its batches are taken over (3 s here): with a kill
    # every second and 8 capability or 8 smart calls per running batch, a small cap would be all dead
    # workers' slots until then
    "KOODISPATCH_RATES__MAX_IN_FLIGHT": "1024",
}


def reset(sim: SimulatorThread, **config: Any) -> None:
    sim_post(sim, "/_simulator/reset", {})
    rates = {"smart": None, "sms": None, "basic": None, "capability": None}
    sim_post(sim, "/_simulator/config", {"capable_share": SHARE, "rates": rates, **config})


def assert_exact(sim: SimulatorThread, truth: Truth, report: Report, fallback: str = "basic") -> None:
    """Ledger: 0 duplicates and 0 missing per channel; the report agrees with it."""
    ledger = sim_get(sim, "/_simulator/ledger")
    capable = sum(is_capable(n, SHARE) for n in truth.numbers.to_list())
    expected = {"smart": capable, fallback: truth.imported - capable}
    for channel in ("smart", "sms", "basic"):
        want = expected.get(channel, 0)
        assert ledger[channel]["duplicates"] == 0, (channel, ledger[channel])
        assert ledger[channel]["unique"] == want, (channel, ledger[channel], want)
        assert report.sent[channel] == want, (channel, report.sent)
    assert report.state == "completed" and report.failed == 0 and report.unsent == 0
    assert report.in_flight == 0


@dataclass(frozen=True)
class Started:
    """A submitted campaign: its queue connection, id, generated truth and the workers' environment."""

    redis: ArqRedis
    cid: str
    truth: Truth
    env: dict[str, str]


@contextlib.asynccontextmanager
async def started(
    redis_url: str,
    sim_url: str,
    tmp_path: Path,
    rows: int,
    seed: int,
    batch_size: int = 5000,
    policy: str = "basic",
    fallback: Mapping[str, Any] | None = None,
    schedule: Mapping[str, Any] | None = None,
    **env: str,
) -> AsyncIterator[Started]:
    """Generate recipients and submit them through the public API (preflight is tested on its own), with
    the spec's ``[schedule]`` if given."""
    truth = generate_recipients(tmp_path / "r.csv", rows, seed=seed)
    environment = engine_env(redis_url, sim_url, KOODISPATCH_RATES__CAPABILITY="50000", **env)
    provider = {"koomessage_url": sim_url, "smsapi_url": sim_url}
    redis = await open_queue(redis_url)
    try:
        result = await api.submit_campaign(
            {**spec(policy, **(fallback or {})), "schedule": dict(schedule or {})},
            redis=redis,
            recipients=tmp_path / "r.csv",
            settings=load_settings(provider=provider, dispatch={"batch_size": batch_size}),
            preflight=False,
        )
        yield Started(redis, result.cid, truth, environment)
    finally:
        await redis.aclose()


async def sent(redis: aioredis.Redis, cid: str) -> int:
    return sum((await api.campaign_report(cid, redis=redis)).sent.values())


async def wait_until(ready: Callable[[], Awaitable[bool]], what: str, max_wait: float = 120) -> None:
    """Poll ``ready`` until it holds; fail naming ``what`` did not happen within ``max_wait`` seconds."""
    deadline = time.monotonic() + max_wait
    while not await ready():
        assert time.monotonic() < deadline, f"{what} within {max_wait}s"
        await asyncio.sleep(0.05)


async def wait_sent(redis: aioredis.Redis, cid: str, at_least: int, max_wait: float = 120) -> None:
    async def enough() -> bool:
        return await sent(redis, cid) >= at_least

    await wait_until(enough, f"not {at_least} sent", max_wait)


class Fleet:
    """Worker processes that a test kills with SIGKILL and replaces, like a crashing fleet."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: list[Popen[bytes]] = []
        self.started = 0

    def spawn(self) -> None:
        self.procs.append(start_worker(self.env["REDIS_URL"], self.env, self.logs / f"w{self.started}.log"))
        self.started += 1

    def kill_one(self, rng: random.Random) -> None:
        self.kill(self.procs[rng.randrange(len(self.procs))])

    def kill(self, victim: Popen[bytes]) -> None:
        """SIGKILL: no handler runs, nothing is released; the victim leaves the fleet."""
        self.procs.remove(victim)
        victim.send_signal(signal.SIGKILL)
        victim.wait()

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            proc.wait(timeout=30)


async def held_by(redis: aioredis.Redis, cid: str, pid: int) -> dict[int, bytes]:
    """The batches of ``cid`` whose lease process ``pid`` holds now, with its lease tokens."""
    runs: dict[bytes, bytes] = await redis.hgetall(keys.RUNNING)  # type: ignore[misc]
    held = {}
    for field, token in runs.items():
        owner, _, batch = field.decode().rpartition(":")
        if owner == cid and token.split(b":")[1] == str(pid).encode():
            held[int(batch)] = token
    return held


async def running_again(redis: aioredis.Redis, cid: str, held: dict[int, bytes], give_up: float) -> float:
    """Seconds until every batch in ``held`` has another holder or is finished (``give_up`` if never)."""
    started = time.monotonic()
    pending = dict(held)
    while pending and time.monotonic() - started < give_up:
        for batch, dead in list(pending.items()):
            holder = await redis.get(keys.lease(cid, batch))
            if (holder is not None and holder != dead) or await redis.sismember(
                keys.batches_done(cid), str(batch)
            ):
                del pending[batch]
        await asyncio.sleep(0.05)
    return time.monotonic() - started if not pending else give_up
