"""End to end: real workers send through the simulator, which posts receipts to our receipts service.

Callback URLs go through the real registration path (``register_callbacks`` → ``/v1/aim/callbacks``); the
simulator's task store is the truth for smart-message outcomes and its ledger the judge of what was sent.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from arq.connections import ArqRedis
from arq.jobs import Job, JobStatus
from pydantic import SecretStr

from engine import api
from engine.ingest.demo_data import generate_recipients
from engine.provider.callbacks import receipt_url
from engine.provider.http import ProviderHttp
from engine.provider.koomessage import KooMessageClient
from engine.receipts.register import register_callbacks
from engine.receipts.server import serve
from engine.runtime.settings import Settings, load_settings
from engine.simulator import RunningSimulator
from engine.simulator.capability import is_capable
from engine.simulator.store import DELIVERED
from engine.state import delivery, jobs
from engine.state.progress import counters
from engine.store import keys
from engine.store.connection import open_queue
from tests.processes import engine_env, wait_for, workers

pytestmark = pytest.mark.slow
TOKEN = "e2e-receipts-token-0123456789"
SHARE = 0.7
LIFTED = "50000"
SHARES = {"DELIVRD": 0.8, "UNDELIV": 0.15, "EXPIRED": 0.05}


@dataclass(frozen=True)
class Setup:
    sim: RunningSimulator
    receipts: str
    queue: ArqRedis
    env: dict[str, str]
    settings: Settings


def spec(**fallback: Any) -> dict[str, Any]:
    return {
        "name": "e2e-receipts",
        "smart": {"template_id": "100000001", "sms_params": ["name"], "dync_params": {"name": "name"}},
        "sms_channel": {
            "channel_number": "10690000",
            "sms_template_id": "sms_tpl_1",
            "signature": "华为云",
            "app_name": "e2e",
        },
        "fallback": {"policy": "sms", "sms_params": ["name"], **fallback},
    }


@pytest.fixture
async def setup(
    simulator: RunningSimulator, redis_client: aioredis.Redis, redis_url: str
) -> AsyncIterator[Setup]:
    """Simulator with lifted rates, the receipts service, and settings pointing at both."""
    settings = load_settings(
        receipts_token=SecretStr(TOKEN),
        provider={"koomessage_url": simulator.url, "smsapi_url": simulator.url},
        dispatch={"batch_size": 500},
    )
    async with serve(settings, redis_client) as receipts:
        simulator.update_config(
            {
                "capable_share": SHARE,
                "rates": {"smart": None, "sms": None, "basic": None, "capability": None},
                # the KooMessage SMS application's status-report address is a console setting, not an API
                "callbacks": {"sms_url": receipt_url(receipts, TOKEN, "sms"), "delay_ms": [20, 80]},
            }
        )
        env = engine_env(
            redis_url,
            simulator.url,
            **{f"KOODISPATCH_RATES__{c}": LIFTED for c in ("SMART", "CAPABILITY", "SMS", "BASIC")},
        )
        queue = await open_queue(redis_url)
        try:
            yield Setup(simulator, receipts, queue, env, settings)
        finally:
            await queue.aclose()


async def register(setup: Setup) -> None:
    """Register our receipt URLs with the simulator exactly as `koodispatch callbacks register` does."""
    async with ProviderHttp(setup.settings) as http:
        client = KooMessageClient.from_settings(http, setup.settings)
        await register_callbacks(client, setup.receipts, TOKEN)


def smart_truth(sim: RunningSimulator) -> dict[str, str]:
    """Number -> the outcome the simulator drew for its smart message."""
    return {
        m: o for task in sim.store.smart.values() for m, o in zip(task.mobiles, task.outcomes, strict=True)
    }


async def until(check: Any, max_wait: float = 60) -> None:
    deadline = time.monotonic() + max_wait
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.1)


async def test_outcome_counts_match_the_simulators_deliveries(
    setup: Setup, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    setup.sim.update_config({"callbacks": {"outcomes": SHARES}})
    await register(setup)
    generate_recipients(tmp_path / "r.csv", 3000, seed=5)
    result = await api.submit_campaign(
        spec(), redis=setup.queue, recipients=tmp_path / "r.csv", settings=setup.settings
    )
    with workers(2, setup.env, tmp_path):
        report = await wait_for(setup.queue, result.cid, max_wait=120)

        async def all_reported() -> bool:
            c = await counters(redis_client, result.cid)
            return all(
                c.get(f"delivered:{ch}", 0) + c.get(f"undelivered:{ch}", 0) == c.get(f"sent:{ch}", 0) > 0
                for ch in ("smart", "sms")
            )

        await until(all_reported)
    assert report.state == "completed"
    c = await counters(redis_client, result.cid)
    truth = Counter(smart_truth(setup.sim).values())
    assert c["sent:smart"] == sum(truth.values())
    assert c["delivered:smart"] == truth[DELIVERED]
    for status in ("UNDELIV", "EXPIRED"):
        assert c[f"undelivered_status:smart:{status}"] == truth[status]
    for channel in ("smart", "sms"):
        assert abs(c[f"delivered:{channel}"] / c[f"sent:{channel}"] - SHARES[DELIVERED]) < 0.06
    outcomes = [
        await delivery.outcomes(redis_client, result.cid, b, ch)
        for b in range(result.batches)
        for ch in ("smart", "sms")
    ]
    assert sum(len(raw) - raw.count(0) for raw in outcomes) == c["sent:smart"] + c["sent:sms"]


@pytest.mark.parametrize("receipts", ["reported", "silent"])
async def test_late_fallback_goes_exactly_once_to_the_undelivered(
    setup: Setup, redis_client: aioredis.Redis, tmp_path: Path, receipts: str
) -> None:
    setup.sim.update_config({"callbacks": {"outcomes": {"DELIVRD": 0.6, "UNDELIV": 0.4}}})
    if receipts == "reported":
        await register(setup)
    truth_file = generate_recipients(tmp_path / "r.csv", 1200, seed=9)
    numbers = truth_file.numbers.to_list()
    late_spec = spec(after_minutes=0.04)  # 2.4 s after each batch finished
    result = await api.submit_campaign(
        late_spec, redis=setup.queue, recipients=tmp_path / "r.csv", settings=setup.settings
    )
    with workers(1, setup.env, tmp_path):
        await wait_for(setup.queue, result.cid, max_wait=120)
        await until(lambda: _late_jobs_done(setup.queue, result.cid, result.batches))
        ledger_before = setup.sim.ledger.snapshot(detail=True, channel="sms")["sms"]
        # the job again (a crash and re-run): the frozen list and the journal make it send nothing new
        await setup.queue.enqueue_job(
            jobs.LATE_FUNCTION, result.cid, 0, _job_id="rerun", _queue_name=keys.QUEUE
        )
        await until(lambda: _gone(setup.queue, "rerun"))

    smart = smart_truth(setup.sim)
    undelivered = {n for n, o in smart.items() if o != DELIVERED} if receipts == "reported" else set(smart)
    not_capable = {n for n in numbers if not is_capable(n, SHARE)}
    ledger = setup.sim.ledger.snapshot(detail=True, channel="sms")["sms"]
    assert ledger == ledger_before and ledger["duplicates"] == 0
    assert set(ledger["numbers"]) == not_capable | undelivered
    late_refs = {s["extend"].split(":")[2] for n in undelivered for s in ledger["numbers"][n]["sends"]}
    assert late_refs == {"late_sms"} and undelivered
    c = await counters(redis_client, result.cid)
    assert c["late:sms"] == len(undelivered) and c["sent:sms"] == len(not_capable) + len(undelivered)


async def _late_jobs_done(queue: ArqRedis, cid: str, batches: int) -> bool:
    return all([await _gone(queue, jobs.late_job_id(cid, b)) for b in range(batches)]) and all(
        [await queue.exists(keys.late(cid, b)) for b in range(batches)]
    )


async def _gone(queue: ArqRedis, job_id: str) -> bool:
    return await Job(job_id, queue, _queue_name=keys.QUEUE).status() is JobStatus.not_found
