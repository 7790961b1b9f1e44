"""The campaign commands of a shared account, through the real CLI: list, reschedule, priority, and a
campaign's own rate caps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from arq.connections import ArqRedis

from engine import api
from engine.budget import tenants
from engine.runtime.settings import load_settings
from engine.simulator import SimulatorThread
from engine.state.feeder import feed
from engine.store import keys
from tests.commands import cli_env, koodispatch
from tests.specs import make_spec, numbers, write


async def submitted(redis: ArqRedis, tmp_path: Path, cid: str, **schedule: object) -> None:
    spec = make_spec("skip").model_copy(update={"id": cid, "name": f"n-{cid}"})
    if schedule:
        spec = spec.model_copy(update={"schedule": spec.schedule.model_copy(update=schedule)})
    path = write(tmp_path / f"{cid}.csv", {"mobile": numbers(True, 30)})
    await api.submit_campaign(spec, redis=redis, recipients=path, settings=load_settings(), preflight=False)


async def test_list_shows_every_campaign_newest_first_and_filters_by_state(
    tmp_path: Path, redis_url: str, arq_redis: ArqRedis, sim: SimulatorThread
) -> None:
    await submitted(arq_redis, tmp_path, "older")
    await submitted(arq_redis, tmp_path, "newer")
    await api.pause("older", redis=arq_redis)
    env = cli_env(redis_url, sim.url)
    listed = await koodispatch("list", "--json", env=env)
    assert listed.code == 0, listed.err
    rows = [orjson.loads(line) for line in listed.out.splitlines()]
    assert [(r["cid"], r["name"], r["state"], r["accepted"]) for r in rows] == [
        ("newer", "n-newer", "running", 30),
        ("older", "n-older", "paused", 30),
    ]
    paused = await koodispatch("list", "--state", "paused", env=env)
    assert "older" in paused.out and "newer" not in paused.out
    wrong = await koodispatch("list", "--state", "asleep", env=env)
    assert wrong.code == 2 and "asleep" in wrong.err and "expected one of" in wrong.err


async def test_a_scheduled_campaign_is_moved_with_its_queued_jobs_and_a_started_one_is_not(
    tmp_path: Path, redis_url: str, arq_redis: ArqRedis, sim: SimulatorThread
) -> None:
    later = datetime.now(UTC) + timedelta(hours=5)
    await submitted(arq_redis, tmp_path, "planned", start_at=later)
    await feed(arq_redis, "planned")
    earlier = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    env = cli_env(redis_url, sim.url)
    moved = await koodispatch("reschedule", "planned", "--start-at", earlier.isoformat(), env=env)
    assert moved.code == 0, moved.err
    scores = {score for _, score in await arq_redis.zrange(keys.QUEUE, 0, -1, withscores=True)}
    assert scores == {earlier.timestamp() * 1000}
    record = await api.campaign_report("planned", redis=arq_redis)
    assert record.state == "scheduled"
    await submitted(arq_redis, tmp_path, "started")
    refused = await koodispatch("reschedule", "started", "--start-at", earlier.isoformat(), env=env)
    assert refused.code == 2 and "only a scheduled one" in refused.err
    naive = await koodispatch("reschedule", "planned", "--start-at", "2026-12-08T09:00", env=env)
    assert naive.code == 2 and "time zone" in naive.err


async def test_priority_and_own_caps_change_live_and_reset_to_the_spec(
    tmp_path: Path, redis_url: str, arq_redis: ArqRedis, sim: SimulatorThread
) -> None:
    await submitted(arq_redis, tmp_path, "alert")
    env = cli_env(redis_url, sim.url)
    moved = await koodispatch("priority", "alert", "urgent", env=env)
    assert moved.code == 0 and "normal → urgent" in moved.out, moved.err
    capped = await koodispatch("rate", "--campaign", "alert", "--smart", "200", env=env)
    assert capped.code == 0 and "smart 200/s" in capped.out, capped.err
    tenant = await tenants.load(arq_redis, "alert")
    assert (tenant.priority, dict(tenant.caps)) == ("urgent", {"smart": 200.0})
    reset = await koodispatch("rate", "--campaign", "alert", "--reset", env=env)
    assert reset.code == 0 and "none" in reset.out
    assert dict((await tenants.load(arq_redis, "alert")).caps) == {}
    for bad in (["priority", "alert", "vip"], ["rate", "--campaign", "nosuch", "--smart", "5"]):
        refused = await koodispatch(*bad, env=env)
        assert refused.code == 2 and len(refused.err.splitlines()) == 1, refused.err
