"""Partitions between hosts, mid-campaign, with the simulator's ledger as the judge.

Redis and the simulator share a host, so unplugging a worker host cuts it off from both: its calls in
flight lose their answers, its lease lapses, the other hosts take its batches over; when it comes back it
still holds requests and answers from before the cut, and the lease fence must refuse all of them. Cutting
only the provider's address leaves Redis reachable: the host's calls time out and are reconciled.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Final

import pytest

from engine.runtime.settings import DispatchSettings
from tests.dispatch.crashes import assert_exact, held_by, reset, running_again, started, wait_sent, wait_until
from tests.hosts.conftest import Cluster
from tests.processes import wait_for

pytestmark = pytest.mark.slow
LEASE_SECONDS: Final = DispatchSettings().lease_seconds  # the default: the goal holds without tuning
TAKEOVER_GOAL: Final = 10.0  # seconds from the cut until every batch the host held runs elsewhere
ENV: Final = {
    # a call is surely over 6 s after it began: a successor's reconciliation waits no longer than that
    "KOODISPATCH_PROVIDER__CONNECT_TIMEOUT": "1",
    "KOODISPATCH_PROVIDER__READ_TIMEOUT": "3",
    "KOODISPATCH_PROVIDER__ANSWER_GRACE": "2",
    "KOODISPATCH_RATES__SMART": "1500",
    "KOODISPATCH_RATES__BASIC": "1500",
}
LATENCY: Final = {"latency_ms": [20, 120]}  # calls are in flight whenever the cut comes


async def test_a_host_cut_off_past_its_lease_is_taken_over_and_fenced_when_it_comes_back(
    tmp_path: Path, cluster: Cluster
) -> None:
    sim = cluster.sim
    reset(sim, faults=LATENCY)
    victim, log = cluster.workers[0], tmp_path / "victim.log"
    async with started(cluster.redis.url, sim.url, tmp_path, 60_000, 25, **ENV) as run:
        worker = cluster.worker(victim, run.env, log)
        for host in cluster.workers[1:]:
            cluster.worker(host, run.env, tmp_path / f"{host.name}.log")
        await wait_sent(run.redis, run.cid, 5_000)

        async def holds() -> bool:
            return bool(await held_by(run.redis, run.cid, worker.pid))

        await wait_until(holds, "the victim held no batch")
        held = await held_by(run.redis, run.cid, worker.pid)
        cut_at = time.monotonic()
        cluster.net.cut(victim)
        took = await running_again(run.redis, run.cid, held, give_up=3 * TAKEOVER_GOAL)
        await asyncio.sleep(3 * LEASE_SECONDS - (time.monotonic() - cut_at))
        cluster.net.heal(victim)
        report = await wait_for(run.redis, run.cid, max_wait=180)

        async def refused() -> bool:  # back, it found its leases gone and stopped its batches
            return "lost; the batch stops before its next call" in log.read_text()

        await wait_until(refused, "the victim never noticed it lost its leases", max_wait=90)
    assert took <= TAKEOVER_GOAL, f"the cut host's batches ran elsewhere only after {took:.1f} s"
    assert_exact(sim, run.truth, report)


async def test_a_host_cut_off_from_the_provider_only_times_out_reconciles_and_sends_nothing_twice(
    tmp_path: Path, cluster: Cluster
) -> None:
    sim = cluster.sim
    reset(sim, faults=LATENCY)
    victim, log = cluster.workers[0], tmp_path / "victim.log"
    async with started(cluster.redis.url, sim.url, tmp_path, 30_000, 26, **ENV) as run:
        cluster.worker(victim, run.env, log)
        for host in cluster.workers[1:]:
            cluster.worker(host, run.env, tmp_path / f"{host.name}.log")
        await wait_sent(run.redis, run.cid, 3_000)
        cluster.net.cut_address(victim, cluster.provider_address)
        await asyncio.sleep(8.0)  # several read timeouts, well inside the outage limit
        cluster.net.heal_address(victim, cluster.provider_address)
        report = await wait_for(run.redis, run.cid, max_wait=180)
    assert "ambiguous answer" in log.read_text(), "no call of the cut host timed out: the test lost its point"
    assert_exact(sim, run.truth, report)
