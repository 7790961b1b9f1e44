"""Send window: when a campaign may send, the checkpoint that holds it, and real workers waiting for it."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis

from engine import api
from engine.cli.view import state_line
from engine.errors import Halt, WindowClosed
from engine.ingest.demo_data import generate_recipients
from engine.ingest.spec import CampaignSpec, ScheduleSpec
from engine.runtime.settings import load_settings
from engine.simulator.capability import is_capable
from engine.state import campaigns
from engine.state.control import StateView
from engine.state.window import closed_warning, next_opening, waiting_note
from engine.store import keys
from engine.store.connection import open_queue
from engine.types import CampaignState
from tests.conftest import SHARE
from tests.processes import engine_env, sim_get, sim_post, spec, wait_for, workers

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(hh_mm: str, day: int = 1) -> datetime:
    """An aware moment on 2024-05-<day>, Shanghai local time."""
    return datetime.combine(datetime(2024, 5, day).date(), datetime.strptime(hh_mm, "%H:%M").time(), SHANGHAI)


@pytest.mark.parametrize(
    ("window", "now", "opens"),
    [
        (None, at("03:00"), None),
        ("08:00-21:00", at("12:00"), None),
        ("08:00-21:00", at("08:00"), None),
        ("08:00-21:00", at("07:59"), at("08:00")),
        ("08:00-21:00", at("21:00"), at("08:00", day=2)),
        ("08:00-21:00", at("23:30"), at("08:00", day=2)),
        ("22:00-06:00", at("23:00"), None),
        ("22:00-06:00", at("05:59"), None),
        ("22:00-06:00", at("12:00"), at("22:00")),
    ],
)
def test_next_opening(window: str | None, now: datetime, opens: datetime | None) -> None:
    schedule = ScheduleSpec.model_validate({"window": window})
    assert next_opening(schedule, now) == opens


@pytest.mark.parametrize(
    ("start", "opens"),
    [("10:00", at("10:00")), ("22:00", at("08:00", day=2))],
)
def test_a_later_start_time_opens_inside_the_window(start: str, opens: datetime) -> None:
    schedule = ScheduleSpec(start_at=at(start), window="08:00-21:00")  # type: ignore[arg-type]
    assert next_opening(schedule, at("09:00")) == opens


def test_waiting_note_names_the_local_opening() -> None:
    schedule = ScheduleSpec(window="08:00-21:00")  # type: ignore[arg-type]
    assert waiting_note(schedule, at("22:15").astimezone(UTC)) == (
        f"waiting for send window (opens {at('08:00', day=2):%Y-%m-%d} 08:00 Asia/Shanghai, in 9 h 45 min)"
    )
    assert waiting_note(schedule, at("09:00")) is None


def test_plan_and_submit_warn_when_the_window_is_closed_at_the_start() -> None:
    schedule = ScheduleSpec(window="08:00-21:00")  # type: ignore[arg-type]
    later = ScheduleSpec(window="08:00-21:00", start_at=at("09:00", day=2))  # type: ignore[arg-type]
    assert closed_warning(schedule, at("22:15")) == (
        "the send window 08:00-21:00 is closed now: nothing is sent until it opens "
        "2024-05-02 08:00 Asia/Shanghai, in 9 h 45 min"
    )
    assert closed_warning(schedule, at("09:00")) is None
    assert closed_warning(later, at("22:15")) is None  # scheduled inside the window: nothing to warn of


async def test_checkpoint_holds_a_running_campaign_outside_its_window(redis_client: aioredis.Redis) -> None:
    campaign = CampaignSpec.model_validate({**spec("skip"), "schedule": {"window": "08:00-21:00"}})
    await campaigns.create(redis_client, "w1", campaign, CampaignState.RUNNING, 1, {})
    now = at("07:30")
    view = StateView(redis_client, clock=lambda: now)
    with pytest.raises(WindowClosed) as closed:
        await view.checkpoint("w1", campaign.schedule)
    assert closed.value.opens_at == at("08:00")
    await view.checkpoint("w1")  # without its schedule only the state is checked
    now = at("08:00")
    await view.checkpoint("w1", campaign.schedule)
    await campaigns.transition(redis_client, "w1", CampaignState.PAUSED)
    view.ttl = 0
    with pytest.raises(Halt) as halted:
        await view.checkpoint("w1", campaign.schedule)
    assert not isinstance(halted.value, WindowClosed) and halted.value.state is CampaignState.PAUSED


async def test_a_resumed_campaign_is_not_halted_by_the_pause_a_worker_saw_before(
    redis_client: aioredis.Redis,
) -> None:
    """A job queued by resume may start in a process whose copy still says paused: it must run."""
    await campaigns.create(
        redis_client, "w2", CampaignSpec.model_validate(spec("skip")), CampaignState.PAUSED, 1, {}
    )
    view = StateView(redis_client, ttl=3600)
    with pytest.raises(Halt):
        await view.checkpoint("w2")
    await campaigns.transition(redis_client, "w2", CampaignState.RUNNING, bump_generation=True)
    await view.checkpoint("w2")


async def test_checkpoints_that_find_the_copy_stale_share_one_read_but_halt_on_their_own(
    redis_client: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A busy worker's calls find the copy stale together: one Redis read serves them while the campaign
    runs; once it is paused, each checkpoint reads for itself before it halts."""
    await campaigns.create(
        redis_client, "w3", CampaignSpec.model_validate(spec("skip")), CampaignState.RUNNING, 1, {}
    )
    reads = 0
    state_of = campaigns.state_of

    async def counted(redis: aioredis.Redis, cid: str) -> CampaignState:
        nonlocal reads
        reads += 1
        return await state_of(redis, cid)

    monkeypatch.setattr(campaigns, "state_of", counted)
    view = StateView(redis_client, ttl=0)  # every checkpoint finds the copy stale
    await asyncio.gather(*(view.checkpoint("w3") for _ in range(20)))
    assert reads == 1
    await campaigns.transition(redis_client, "w3", CampaignState.PAUSED)
    halted = await asyncio.gather(*(view.checkpoint("w3") for _ in range(5)), return_exceptions=True)
    assert all(isinstance(h, Halt) and h.state is CampaignState.PAUSED for h in halted)
    assert reads == 1 + 1 + 5  # the shared read that saw the pause, then one read per halting checkpoint


OPENS_IN = 3.0  # the window closed a minute ago and opens again within this many seconds of submission


async def test_closed_window_holds_every_worker_until_it_opens(
    tmp_path: Path, redis_url: str, simulator_thread: Any
) -> None:
    sim = simulator_thread
    sim_post(sim, "/_simulator/reset", {})
    sim_post(sim, "/_simulator/config", {"capable_share": SHARE, "rates": {"smart": None, "sms": None}})
    truth = generate_recipients(tmp_path / "r.csv", 3000, seed=5)
    env = engine_env(
        redis_url, sim.url, KOODISPATCH_RATES__SMART="50000", KOODISPATCH_RATES__CAPABILITY="50000"
    )
    redis = await open_queue(redis_url)
    try:
        with workers(2, env, tmp_path):
            await _started(tmp_path, 2)
            now = datetime.now(SHANGHAI)
            opens = (now + timedelta(seconds=OPENS_IN)).replace(microsecond=0)  # the window has seconds
            window = f"{opens:%H:%M:%S}-{now - timedelta(minutes=1):%H:%M:%S}"
            result = await api.submit_campaign(
                {**spec("sms"), "schedule": {"window": window}},
                redis=redis,
                recipients=tmp_path / "r.csv",
                settings=load_settings(dispatch={"batch_size": 1000}),
                preflight=False,
            )
            await _every_job_deferred_to(redis, opens.timestamp())
            assert await state_line(redis, result.cid) == (
                f"running — waiting for send window (opens {opens:%Y-%m-%d %H:%M} Asia/Shanghai, in "
                "under a minute)"
            )
            await asyncio.sleep(max(0.0, opens.timestamp() - time.time() - 0.3))
            held = sim_get(sim, "/_simulator/ledger")
            report = await wait_for(redis, result.cid, max_wait=60)
    finally:
        await redis.aclose()
    assert sum(held["calls"].values()) == 0  # not even a capability check before the opening
    assert report.state == "completed" and report.batches == 3
    ledger = sim_get(sim, "/_simulator/ledger")
    capable = sum(is_capable(n, SHARE) for n in truth.numbers.to_list())
    assert ledger["smart"]["unique"] == capable and ledger["smart"]["duplicates"] == 0
    assert ledger["sms"]["unique"] == truth.imported - capable and ledger["sms"]["duplicates"] == 0


async def _started(logs: Path, count: int, max_wait: float = 60) -> None:
    """Wait until ``count`` worker processes logged their start (importing the engine takes seconds)."""
    deadline = time.monotonic() + max_wait
    while await asyncio.to_thread(_count_started, logs) < count:
        if time.monotonic() > deadline:
            raise AssertionError("worker processes did not start")
        await asyncio.sleep(0.1)


def _count_started(logs: Path) -> int:
    return sum("Starting worker" in log.read_text() for log in logs.glob("worker-*.log"))


async def _every_job_deferred_to(redis: aioredis.Redis, opens: float, max_wait: float = 20) -> None:
    """Wait until each batch job was taken by a worker and put back in the queue for the opening."""
    deadline = time.monotonic() + max_wait
    scores: list[float] = []
    while time.monotonic() < deadline:
        scores = [score for _, score in await redis.zrange(keys.QUEUE, 0, -1, withscores=True)]
        if len(scores) == 3 and all(score >= (opens - 1) * 1000 for score in scores):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"batch jobs were not deferred to the window's opening: {scores}")
