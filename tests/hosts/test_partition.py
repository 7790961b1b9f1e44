"""Partitions between hosts, mid-campaign, with the simulator's ledger as the judge.

Redis and the simulator share a host, so unplugging a worker host cuts it off from both: its calls in
flight lose their answers, its lease lapses, the other hosts take its batches over; when it comes back it
still holds requests and answers from before the cut, and the lease fence must refuse all of them. A host
frozen (SIGSTOP: a VM pause) and thawed is the same seen from the others. Cutting only the provider's
address leaves Redis reachable: the host's calls time out and are reconciled.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen
from typing import Final

import pytest
import redis.asyncio as aioredis

from engine import api
from engine.runtime.settings import DispatchSettings
from engine.types import TERMINAL, CampaignState
from tests.dispatch.crashes import (
    Started,
    assert_exact,
    held_by,
    reset,
    running_again,
    started,
    wait_sent,
    wait_until,
)
from tests.hosts.conftest import CAMPAIGN_ENV, LATENCY, Cluster
from tests.hosts.netns import Host
from tests.processes import wait_for

pytestmark = pytest.mark.slow
LEASE_SECONDS: Final = DispatchSettings().lease_seconds  # the default: the goal holds without tuning
TAKEOVER_GOAL: Final = 10.0  # seconds from the host's last sign of life until its batches run elsewhere
ENV: Final = {
    **CAMPAIGN_ENV,
    # room on the other hosts for the cut host's batches at once: the goal is how soon they move, not how
    # many batches of one campaign a worker may run
    "KOODISPATCH_DISPATCH__WORKER_CONCURRENCY": "16",
}


@contextlib.asynccontextmanager
async def campaign(
    cluster: Cluster, tmp_path: Path, rows: int, seed: int, batch_size: int = 2000, **env: str
) -> AsyncIterator[Victim]:
    """A campaign sent by a worker on every worker host; the first host's (the victim's) is started alone
    until it holds a batch, else the others, ready first, may take them all."""
    reset(cluster.sim, faults=LATENCY)
    async with started(cluster.redis.url, cluster.sim.url, tmp_path, rows, seed, batch_size, **env) as run:
        log = tmp_path / "victim.log"
        victim = Victim(run, cluster.workers[0], log, cluster.worker(cluster.workers[0], run.env, log))
        await wait_until(victim.holds, "the victim held no batch")
        for host in cluster.workers[1:]:
            victim.others.append(cluster.worker(host, run.env, tmp_path / f"{host.name}.log"))
        yield victim


@dataclass
class Victim:
    """The host a test cuts off or freezes, its worker, and the workers of the other hosts."""

    run: Started
    host: Host
    log: Path
    worker: Popen[bytes]
    others: list[Popen[bytes]] = field(default_factory=list)

    async def held(self, worker: Popen[bytes] | None = None) -> dict[int, bytes]:
        """The batches ``worker`` (the victim's by default) holds now."""
        return await held_by(self.run.redis, self.run.cid, (worker or self.worker).pid)

    async def holds(self) -> bool:
        return bool(await self.held())

    async def over(self) -> bool:
        report = await api.campaign_report(self.run.cid, redis=self.run.redis)
        return CampaignState(report.state) in TERMINAL


@contextlib.asynccontextmanager
async def redis_busy(url: str, seconds: float = 1.0) -> AsyncIterator[None]:
    """Redis busy for ``seconds`` (DEBUG SLEEP) around the block: the commands every worker sends meanwhile
    wait in Redis, and are run and answered together at its end, when the block has cut a host off or
    frozen it. So the host surely has answers in flight that it reads only when it is back, such as the
    admission of a call under a lease it lost meanwhile."""
    client = aioredis.Redis.from_url(url)
    try:
        sleeping = asyncio.create_task(client.execute_command("DEBUG", "SLEEP", seconds))
        await asyncio.sleep(seconds / 2)
        yield
        await sleeping
    finally:
        await client.aclose()


async def test_a_host_cut_off_past_its_lease_is_taken_over_and_fenced_when_it_comes_back(
    tmp_path: Path, cluster: Cluster
) -> None:
    async with campaign(cluster, tmp_path, 60_000, 25, **ENV) as victim:
        run = victim.run
        await wait_sent(run.redis, run.cid, 5_000)
        await wait_until(victim.holds, "the victim held no batch")
        held = await victim.held()
        async with redis_busy(cluster.redis.url):  # what the host asked meanwhile is answered into the cut
            cluster.net.cut(victim.host)
        cut_at = time.monotonic()  # Redis has just run the last commands the host sent: its last sign of life
        took = await running_again(run.redis, run.cid, held, give_up=3 * TAKEOVER_GOAL)
        await asyncio.sleep(3 * LEASE_SECONDS - (time.monotonic() - cut_at))
        cluster.net.heal(victim.host)
        report = await wait_for(run.redis, run.cid, max_wait=180)

        async def refused() -> bool:  # back, it found its leases gone and stopped its batches
            return "lost; the batch stops before its next call" in victim.log.read_text()

        await wait_until(refused, "the victim never noticed it lost its leases", max_wait=90)
    assert took <= TAKEOVER_GOAL, f"the cut host's batches ran elsewhere only after {took:.1f} s"
    assert_exact(cluster.sim, run.truth, report)


async def test_a_host_cut_off_from_the_provider_only_times_out_reconciles_and_sends_nothing_twice(
    tmp_path: Path, cluster: Cluster
) -> None:
    async with campaign(cluster, tmp_path, 30_000, 26, **ENV) as victim:
        run = victim.run
        await wait_sent(run.redis, run.cid, 3_000)
        await wait_until(victim.holds, "the victim held no batch")
        cluster.net.cut_address(victim.host, cluster.provider_address)
        await asyncio.sleep(8.0)  # several read timeouts, well inside the outage limit
        cluster.net.heal_address(victim.host, cluster.provider_address)
        report = await wait_for(run.redis, run.cid, max_wait=180)
    log = victim.log.read_text()
    assert "ambiguous answer" in log, "no call of the cut host timed out: the test lost its point"
    assert_exact(cluster.sim, run.truth, report)


FREEZES: Final = 2
FREEZE_ENV: Final = {**ENV, "KOODISPATCH_RATES__SMART": "600", "KOODISPATCH_RATES__BASIC": "600"}


async def test_a_host_frozen_past_its_lease_sends_nothing_twice_when_it_thaws(
    tmp_path: Path, cluster: Cluster
) -> None:
    """SIGSTOP: a host holding batches is paused (a VM pause, a stall) mid-call, its batches are taken over,
    and when it thaws it first reads the answers Redis gave before: an admission among them must not send.
    Twice, each time a host holding batches other than the one frozen last."""
    frozen: list[int] = []
    async with campaign(cluster, tmp_path, 50_000, 27, 1000, **FREEZE_ENV) as victim:
        run = victim.run
        await wait_sent(run.redis, run.cid, 2_000)
        while len(frozen) < FREEZES and not await victim.over():
            # a worker holding batches, another than the last one frozen (it may have none left to run)
            for worker in (victim.worker, *victim.others):
                if worker.pid not in frozen[-1:] and await victim.held(worker):
                    async with redis_busy(cluster.redis.url):
                        worker.send_signal(signal.SIGSTOP)
                    await asyncio.sleep(3 * LEASE_SECONDS)
                    worker.send_signal(signal.SIGCONT)
                    frozen.append(worker.pid)
                    break
            await asyncio.sleep(0.1)
        report = await wait_for(run.redis, run.cid, max_wait=180)
    assert len(frozen) == FREEZES, f"the campaign ended after {len(frozen)} freeze(s): make it longer"
    assert_exact(cluster.sim, run.truth, report)
