"""Trial send: trial numbers first through the journaled path, the campaign paused until resume."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from arq.connections import ArqRedis

from engine import api
from engine.errors import StateError
from engine.ingest.demo_data import generate_recipients
from engine.runtime.settings import load_settings
from engine.simulator import SimulatorThread
from engine.state import campaigns, trial
from engine.state.batches import load_batch
from engine.store import keys
from engine.store.connection import open_queue
from engine.types import CampaignState
from tests.conftest import SHARE
from tests.processes import engine_env, sim_get, sim_post, spec, wait_for, workers

OUTSIDE = ["19999990001", "19999990002"]  # trial phones that are not on the list


def trial_spec(*trial_numbers: str) -> dict[str, Any]:
    campaign = spec("sms", sms_params=["name"])
    return {**campaign, "schedule": {"trial_numbers": list(trial_numbers)}}


async def submit(redis: ArqRedis, campaign: dict[str, Any], recipients: Path) -> str:
    result = await api.submit_campaign(
        campaign, redis=redis, recipients=recipients, settings=load_settings(), preflight=False
    )
    return result.cid


async def test_submit_freezes_the_trial_and_holds_the_list(tmp_path: Path, redis_url: str) -> None:
    truth = generate_recipients(tmp_path / "r.csv", 200, seed=2)
    listed = truth.numbers.to_list()
    assert not set(OUTSIDE) & set(listed)
    redis = await open_queue(redis_url)
    try:
        cid = await submit(redis, trial_spec(*OUTSIDE, listed[5]), tmp_path / "r.csv")
        record = await campaigns.load(redis, cid)
        tid = trial.trial_id(cid)
        first = await campaigns.load(redis, tid)
        queued = [job.decode() for job in await redis.zrange(keys.QUEUE, 0, -1)]
        frozen = await load_batch(redis, tid, 0, ["name"])
        own = await load_batch(redis, cid, 0, ["name"])

        with pytest.raises(StateError, match="trial"):
            await api.resume(cid, redis=redis)
        await api.cancel(cid, redis=redis)
        cancelled = await campaigns.load(redis, tid)
    finally:
        await redis.aclose()
    assert (record.state, record.reason) == (CampaignState.PAUSED, trial.SENDING)
    assert first.state is CampaignState.RUNNING and first.counts["accepted"] == 3
    assert queued == [f"{tid}:0:0"]  # only the trial is queued; the list waits for resume
    assert frozen.numbers == [*OUTSIDE, listed[5]]
    # the trial shows what recipients will see: a listed number its own row, the others the first row's
    assert frozen.params["name"] == [own.params["name"][0], own.params["name"][0], own.params["name"][5]]
    assert cancelled.state is CampaignState.CANCELLED


async def test_trial_first_then_paused_and_resume_sends_everyone_once(
    tmp_path: Path, redis_url: str, simulator_thread: Any
) -> None:
    sim = simulator_thread
    sim_post(sim, "/_simulator/reset", {})
    sim_post(sim, "/_simulator/config", {"capable_share": SHARE, "rates": {"smart": None, "sms": None}})
    truth = generate_recipients(tmp_path / "r.csv", 3000, seed=4)
    listed = truth.numbers.to_list()
    env = engine_env(
        redis_url, sim.url, KOODISPATCH_RATES__SMART="50000", KOODISPATCH_RATES__CAPABILITY="50000"
    )
    redis = await open_queue(redis_url)
    try:
        cid = await submit(redis, trial_spec(*OUTSIDE, listed[0]), tmp_path / "r.csv")
        with workers(2, env, tmp_path):
            first = await wait_for(redis, trial.trial_id(cid), max_wait=60)
            waiting = await _reason(redis, cid, trial.SENT)
            after_trial = _accepted(sim)
            await asyncio.sleep(0.5)  # nothing else goes out while the campaign waits
            still = _accepted(sim)
            await api.resume(cid, redis=redis)
            report = await wait_for(redis, cid, max_wait=60)
    finally:
        await redis.aclose()

    trial_numbers = {*OUTSIDE, listed[0]}
    assert first.state == "completed" and sum(first.sent.values()) == 3
    assert waiting.state == "paused" and sum(waiting.sent.values()) == 0
    assert after_trial == still and set(after_trial) == trial_numbers
    assert all(len(refs) == 1 and refs[0].startswith(f"{cid}.trial:") for refs in after_trial.values())

    assert report.state == "completed" and sum(report.sent.values()) == len(listed)
    sends = _accepted(sim)
    assert set(sends) == set(listed) | trial_numbers
    for number, refs in sends.items():
        by_campaign = sorted(ref.split(":", 1)[0] for ref in refs)
        if number == listed[0]:  # on the list and a trial number: the trial, then the campaign itself
            assert by_campaign == [cid, f"{cid}.trial"]
        else:
            assert len(by_campaign) == 1, number


def _accepted(sim: SimulatorThread) -> dict[str, list[str]]:
    """Every number the simulator accepted, on any channel, with the client reference of each send."""
    sends: dict[str, list[str]] = {}
    for channel in ("smart", "sms", "basic"):
        numbers = sim_get(sim, f"/_simulator/ledger?channel={channel}&detail=1")[channel]["numbers"]
        for number, entry in numbers.items():
            sends.setdefault(number, []).extend(_reference(send) for send in entry["sends"])
    return sends


def _reference(send: dict[str, str]) -> str:
    """Our chunk reference (``<cid>:<batch>:<stage>:<k>``) among a send's references."""
    return next(value for value in send.values() if value.count(":") == 3)


async def _reason(redis: ArqRedis, cid: str, reason: str, max_wait: float = 10) -> Any:
    """The report of ``cid`` once its pause reason is ``reason``."""
    deadline = time.monotonic() + max_wait
    report = await api.campaign_report(cid, redis=redis)
    while report.reason != reason:
        if time.monotonic() > deadline:
            raise AssertionError(f"campaign {cid}: reason still {report.reason!r}")
        await asyncio.sleep(0.05)
        report = await api.campaign_report(cid, redis=redis)
    return report
