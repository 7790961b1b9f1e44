"""Receipts and late fallback with several campaigns at once: each status report lands on the campaign that
sent the message, and each campaign's late fallback goes exactly once to its own undelivered numbers, with
the same numbers on several lists."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from engine import api
from engine.ingest.demo_data import generate_recipients
from engine.simulator.capability import is_capable
from engine.simulator.store import DELIVERED
from engine.state.progress import counters
from tests.processes import wait_for, workers
from tests.receipts.test_end_to_end import SHARE, Setup, _late_jobs_done, register, setup, spec, until

pytestmark = pytest.mark.slow
__all__ = ["setup"]  # the fixture, shared with the single-campaign receipts tests


async def test_reports_and_late_fallback_are_each_campaigns_own(
    setup: Setup, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    setup.sim.update_config({"callbacks": {"outcomes": {"DELIVRD": 0.6, "UNDELIV": 0.4}}})
    await register(setup)
    shared = generate_recipients(tmp_path / "shared.csv", 1500, seed=3).numbers.to_list()
    lists = {"first": shared, "second": shared[:700] + shared[1200:]}  # 1,000 numbers on both lists
    cids: dict[str, str] = {}
    for name, numbers in lists.items():
        path = tmp_path / f"{name}.csv"
        path.write_text("mobile,name\n" + "".join(f"{n},{name}\n" for n in numbers))
        body = {**spec(after_minutes=0.04), "name": name}
        result = await api.submit_campaign(body, redis=setup.queue, recipients=path, settings=setup.settings)
        cids[name] = result.cid
    with workers(2, setup.env, tmp_path):
        for cid in cids.values():
            await wait_for(setup.queue, cid, max_wait=120)
            batches = (await api.campaign_report(cid, redis=setup.queue)).batches
            await until(lambda cid=cid, batches=batches: _late_jobs_done(setup.queue, cid, batches))

    ledger = setup.sim.ledger.snapshot(detail=True)
    for name, cid in cids.items():
        outcome = {  # the simulator's draw for each smart message this campaign sent
            m: o
            for task in setup.sim.store.smart.values()
            if task.task_name.partition(":")[0] == cid
            for m, o in zip(task.mobiles, task.outcomes, strict=True)
        }
        capable = {n for n in lists[name] if is_capable(n, SHARE)}
        assert set(outcome) == capable
        c = await counters(redis_client, cid)
        assert c["delivered:smart"] == Counter(outcome.values())[DELIVERED]
        assert c["undelivered:smart"] == len(capable) - c["delivered:smart"]
        undelivered = {n for n, o in outcome.items() if o != DELIVERED}
        late = Counter(
            n
            for n, seen in ledger["sms"]["numbers"].items()
            for send in seen["sends"]
            if send["extend"].startswith(f"{cid}:") and send["extend"].split(":")[2] == "late_sms"
        )
        assert set(late) == undelivered and max(late.values()) == 1, name
        assert c["late:sms"] == len(undelivered)
