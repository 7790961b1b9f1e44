"""A Redis primary killed mid-campaign across hosts: the scenario of ``test_failover.py`` and of
``benchmarks/failover.py``, which records what the test does not assert (how long nothing was sent).

Workers on three hosts reach Redis through three sentinels. ``kill -9`` of the primary: the sentinels take
it for down after a second and promote a replica; the workers' connections ask them where the primary is
now and go on there. The old primary is started again once a replica was promoted, empty, as a supervisor
would restart it: the sentinels make it a replica of the new primary. Calls are made again once the new
primary has a replica that confirms their in_flight marks (``engine/store/coalesce.py``): the old primary
back, or with two replicas the other one.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import redis.asyncio as aioredis

from engine.ingest.demo_data import Truth
from engine.reports.summary import Report
from engine.runtime.redis_server import RedisServer
from engine.simulator import SimulatorThread
from engine.store.sentinel import discover_primary
from tests.dispatch.crashes import reset, started, wait_sent
from tests.hosts.conftest import CAMPAIGN_ENV, LATENCY, Cluster
from tests.processes import sim_post, wait_for
from tests.sentinels import SentinelGroup

CHANNELS: Final = ("smart", "sms", "basic")
SLOW: Final = {"latency_ms": [150, 300]}  # calls surely in flight when the replica starts to lag


@dataclass(frozen=True)
class Failover:
    """How the campaign ended, and what the failover did to it."""

    report: Report
    truth: Truth
    silent: float  # longest time after the kill in which the provider accepted no number
    promoted_after: float  # seconds from the kill until the sentinels named the replica the primary
    replicated_after: float | None  # ... until the new primary had a replica (again; None: not seen)
    refused: int  # calls held back because no replica confirmed their in_flight mark in time
    logs: list[Path]


def accepted(sim: SimulatorThread) -> int:
    ledger = sim.ledger()
    return sum(ledger[channel]["accepted"] for channel in CHANNELS)


async def promoted(group: SentinelGroup) -> RedisServer | None:
    """The replica the sentinels made the primary, if they did yet."""
    named = await discover_primary(group.address, 1.0)
    return next((server for server in group.replicas if (server.host, server.port) == named), None)


async def fail_over_mid_campaign(
    cluster: Cluster, tmp_path: Path, rows: int, seed: int, kill_after: int, lag: float = 0.0
) -> Failover:
    """Send a campaign from a worker on every worker host, kill the primary once ``kill_after`` numbers
    were sent, and wait until the campaign ended. With ``lag``, what the primary sends its first replica is
    lost for that many seconds before the kill (on the way: the primary's host can no longer reach the
    replica's), so the replica the sentinels promote lacks the primary's last writes."""
    group = cluster.group
    assert group is not None, "needs the sentinel_cluster fixture"
    reset(cluster.sim, faults=LATENCY)
    logs = [tmp_path / f"{host.name}.log" for host in cluster.workers]
    replica = group.replica.host
    async with started(cluster.url, cluster.sim.url, tmp_path, rows, seed, 2000, **CAMPAIGN_ENV) as run:
        for host, log in zip(cluster.workers, logs, strict=True):
            cluster.worker(host, run.env, log)
        await wait_sent(run.redis, run.cid, kill_after)
        if lag:  # slower calls for a moment: several surely end while the replica lags
            sim_post(cluster.sim, "/_simulator/config", {"faults": SLOW})
            await asyncio.sleep(SLOW["latency_ms"][1] / 1000)
            cluster.net.cut_address(cluster.server, replica)
            await asyncio.sleep(lag)
        group.primary.stop(kill=True)
        killed = time.monotonic()
        sim_post(cluster.sim, "/_simulator/config", {"faults": LATENCY})
        samples = [(killed, accepted(cluster.sim))]
        promoted_after = replicated_after = None
        new: aioredis.Redis | None = None
        waiting = asyncio.ensure_future(wait_for(run.redis, run.cid, max_wait=150))
        try:
            while not waiting.done():
                samples.append((time.monotonic(), accepted(cluster.sim)))
                if new is None and (server := await promoted(group)) is not None:
                    promoted_after = time.monotonic() - killed
                    if lag:  # the replica's link to the dead primary is gone: nothing more reaches it
                        cluster.net.heal_address(cluster.server, replica)
                    new = aioredis.Redis(host=server.host, port=server.port, password=server.password)
                    group.primary.start()  # empty: the sentinels make it a replica of the new primary
                elif new is not None and replicated_after is None and await _has_replica(new):
                    replicated_after = time.monotonic() - killed
                await asyncio.sleep(0.05)
        finally:
            if new is not None:
                await new.aclose()
        report = await waiting
    assert promoted_after is not None, "the campaign ended before the sentinels promoted the replica"
    refused = sum(log.read_text().count("is not on a replica") for log in logs)
    return Failover(report, run.truth, _silent(samples), promoted_after, replicated_after, refused, logs)


async def _has_replica(primary: aioredis.Redis) -> bool:
    info = await primary.info("replication")
    return bool(info.get("connected_slaves", 0))


def _silent(samples: list[tuple[float, int]]) -> float:
    """The longest stretch of ``samples`` (time, numbers accepted) in which the count did not grow."""
    longest, since, last = 0.0, samples[0][0], samples[0][1]
    for at, count in samples:
        if count != last:
            longest, since, last = max(longest, at - since), at, count
    return longest
