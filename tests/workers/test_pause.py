"""Pause as an operator sees it: once ``pause`` returned, no worker starts another send of the campaign."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from arq.connections import ArqRedis

from engine import api
from engine.runtime.settings import load_settings
from engine.simulator import SimulatorThread
from engine.store import keys
from tests.processes import engine_env, sim_get, workers
from tests.specs import make_spec, numbers, write

ROWS = 4_000
BATCH = 500


async def test_no_send_starts_after_pause_returned(
    tmp_path: Path, redis_url: str, arq_redis: ArqRedis, sim: SimulatorThread
) -> None:
    """Two real workers send at a budget slow enough that the pause lands mid-campaign; every call the
    provider accepted must have been journaled (admitted) before ``pause`` returned. Without the state
    check in the admission, a worker whose cached state still said running went on for up to its cache's
    lifetime."""
    path = write(tmp_path / "r.csv", {"mobile": numbers(True, ROWS), "name": ["a"] * ROWS})
    settings = load_settings(dispatch={"batch_size": BATCH})
    spec = make_spec("skip", sms_params=["name"])
    env = engine_env(redis_url, sim.url, KOODISPATCH_RATES__SMART="600")
    with workers(2, env, tmp_path):
        result = await api.submit_campaign(
            spec, redis=arq_redis, recipients=path, settings=settings, preflight=False
        )
        await _until(lambda: _accepted(sim) >= 500, "the campaign to send")
        await api.pause(result.cid, redis=arq_redis)
        admitted = await _journaled(arq_redis, result.cid, result.batches)
        await _until_no_batch_held(arq_redis, result.cid, result.batches)
    accepted = _accepted_refs(sim)
    assert accepted <= admitted, f"sent after pause returned: {sorted(accepted - admitted)[:5]}"
    assert 0 < len(admitted) < ROWS // 100, "paused mid-campaign"  # 100 numbers a smart call


def _accepted(sim: SimulatorThread) -> int:
    return int(sim_get(sim, "/_simulator/ledger?channel=smart")["smart"]["accepted"])


def _accepted_refs(sim: SimulatorThread) -> set[str]:
    """The client reference (chunk ref ``cid:batch:stage:k``) of every smart call the simulator accepted."""
    detail = sim_get(sim, "/_simulator/ledger?channel=smart&detail=1")["smart"]["numbers"]
    return {send["task_name"] for each in detail.values() for send in each["sends"]}


async def _journaled(redis: ArqRedis, cid: str, batches: int) -> set[str]:
    """The chunk refs journaled so far in every batch of ``cid``: each call admitted until now."""
    refs = set()
    for batch in range(batches):
        journal: dict[bytes, bytes] = await redis.hgetall(keys.journal(cid, batch))  # type: ignore[misc]
        refs |= {f"{cid}:{batch}:{field.decode()}" for field in journal}
    return refs


async def _until_no_batch_held(redis: ArqRedis, cid: str, batches: int) -> None:
    """Wait until every batch job of ``cid`` has ended (halted): no batch lease is held any more."""

    async def held() -> bool:
        return bool(await redis.exists(*(keys.lease(cid, batch) for batch in range(batches))))

    deadline = time.monotonic() + 60
    while await held():
        assert time.monotonic() < deadline, "batches still held a minute after the pause"
        await asyncio.sleep(0.05)


async def _until(done: Callable[[], bool], what: str, max_wait: float = 60) -> None:
    deadline = time.monotonic() + max_wait
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
