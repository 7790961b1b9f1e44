"""Hosts whose clocks disagree: one worker host 30 s ahead, one 30 s behind, one right (libfaketime).

Budgets, leases and takeovers go by Redis's clock, and what a worker reckons in wall time itself (a call's
journaled deadline, the start time and send window) by its measured offset to Redis (``store/clock.py``):
so nothing is sent before the campaign's start, the simulator, capped at the engine's own rate, throttles
no call, and a batch taken over from a killed skewed worker is exact. The ledger is the judge.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import pytest

from tests.dispatch.crashes import assert_exact, held_by, reset, started, wait_sent, wait_until
from tests.hosts.conftest import Cluster, require_faketime
from tests.processes import wait_for

pytestmark = pytest.mark.slow
SKEWS: Final = ("+30s", "-30s", "")  # the wall clocks of the three worker hosts
CAP: Final = 1000  # numbers/s: the simulator's cap and the engine's budget on each sending channel
START_IN: Final = timedelta(seconds=15)
ENV: Final = {
    "KOODISPATCH_PROVIDER__CONNECT_TIMEOUT": "1",
    "KOODISPATCH_PROVIDER__READ_TIMEOUT": "3",
    "KOODISPATCH_PROVIDER__ANSWER_GRACE": "2",
    "KOODISPATCH_RATES__SMART": str(CAP),
    "KOODISPATCH_RATES__BASIC": str(CAP),
}


async def test_hosts_30_s_ahead_and_behind_send_nothing_early_over_the_cap_or_twice(
    tmp_path: Path, cluster: Cluster
) -> None:
    require_faketime()
    sim = cluster.sim
    caps = {"smart": CAP, "basic": CAP, "sms": None, "capability": None}
    reset(sim, rates=caps, faults={"latency_ms": [20, 120], "drop_after_accept_share": 0.02})
    start_at = datetime.now(UTC) + START_IN
    schedule = {"start_at": start_at}
    redis_url = cluster.redis.url
    async with started(redis_url, sim.url, tmp_path, 30_000, 31, 2000, schedule=schedule, **ENV) as run:
        workers = [
            cluster.worker(host, run.env, tmp_path / f"{host.name}.log", clock)
            for host, clock in zip(cluster.workers, SKEWS, strict=True)
        ]
        while datetime.now(UTC) < start_at - timedelta(seconds=0.5):
            ledger = sim.ledger()
            assert sum(ledger[c]["accepted"] for c in ("smart", "sms", "basic")) == 0, "sent before start_at"
            await asyncio.sleep(0.2)
        await wait_sent(run.redis, run.cid, 5_000)
        ahead = workers[0]  # it sees the deferred jobs first: it holds batches from the start

        async def holds() -> bool:
            return bool(await held_by(run.redis, run.cid, ahead.pid))

        await wait_until(holds, "the host ahead held no batch")
        ahead.send_signal(signal.SIGKILL)  # its batches go to hosts whose clocks say otherwise
        report = await wait_for(run.redis, run.cid, max_wait=180)
    ledger = sim.ledger()
    assert sum(ledger["throttled"].values()) == 0, f"over the cap: {ledger['throttled']}"
    assert_exact(sim, run.truth, report)
