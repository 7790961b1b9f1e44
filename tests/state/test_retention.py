"""Retention: an ended campaign's per-number data expires or is purged; its summary report stays."""

from __future__ import annotations

import time
from pathlib import Path

from arq.connections import ArqRedis

from engine import api
from engine.state import retention
from engine.state.delivery import OutcomeWriter
from engine.store import keys
from tests.commands import cli_env, koodispatch, report_json
from tests.failures import NUMBERS, receipt, submit_small, typical_outcome

SUMMARY = {"campaign", "counters", "timeline", "batches_done", "epoch"}  # what stays, numbers-free
OWN_EXPIRY = {"claim"}  # the submission's digest, gone 10 minutes after it


async def campaign_keys(redis: ArqRedis, cid: str) -> dict[str, int]:
    """Every key of the campaign (its kind, e.g. ``batch:0``) with its TTL in seconds (-1: none)."""
    prefix = f"kd:{{{cid}}}:"
    found = {}
    async for raw in redis.scan_iter(match=f"kd:{{{cid}}}:*"):
        found[raw.decode().removeprefix(prefix)] = int(await redis.ttl(raw))
    return found


async def test_an_ended_campaigns_detail_expires_after_the_receipt_window_and_retention(
    arq_redis: ArqRedis, tmp_path: Path
) -> None:
    cid = await submit_small(arq_redis, tmp_path)
    await typical_outcome(arq_redis, cid)
    before = await campaign_keys(arq_redis, cid)
    assert all(ttl == -1 for kind, ttl in before.items() if kind != "claim")  # nothing expires while it runs

    await api.cancel(cid, redis=arq_redis)
    await receipt(arq_redis, cid, NUMBERS[4], "basic", False, "UNDELIV")  # a receipt after the end

    expected = 4 * 86400 + 30 * 86400  # the receipt window, then retention.days
    ttls = await campaign_keys(arq_redis, cid)
    detail = {kind: ttl for kind, ttl in ttls.items() if kind not in SUMMARY | OWN_EXPIRY}
    assert {"batch:0", "failed", "delivery:0:smart", "delivery:0:basic", "statuses"} <= set(detail)
    assert all(expected - 60 < ttl <= expected for ttl in detail.values()), detail
    assert all(ttls[kind] == -1 for kind in (SUMMARY - {"timeline"}) & set(ttls))  # timeline: 35 days
    report = await api.campaign_report(cid, redis=arq_redis)
    assert not report.detail_purged and abs(report.detail_kept_until - time.time() - expected) < 60


async def test_purge_deletes_the_detail_keeps_the_summary_and_report_says_so(
    arq_redis: ArqRedis, redis_url: str, tmp_path: Path
) -> None:
    cid = await submit_small(arq_redis, tmp_path)
    await typical_outcome(arq_redis, cid)
    env = cli_env(redis_url, "http://127.0.0.1:9")
    refused = await koodispatch("purge", cid, env=env)
    assert refused.code != 0 and "only an ended campaign" in refused.err  # it is still running
    full = report_json(await koodispatch("report", cid, "--json", env=env))

    await api.cancel(cid, redis=arq_redis)
    done = await koodispatch("purge", cid, env=env)
    assert done.code == 0 and f"{cid}: per-number detail purged" in done.out

    assert set(await campaign_keys(arq_redis, cid)) <= SUMMARY | OWN_EXPIRY
    after = report_json(await koodispatch("report", cid, "--json", env=env))
    assert after["detail_purged"] is True
    for figure in ("imported", "sent", "failed", "failed_by_reason", "funnel"):
        assert after[figure] == full[figure], figure
    text = await koodispatch("report", cid, env=env)
    assert "per-number detail purged" in text.out
    export = await koodispatch("report", cid, "--failed-out", str(tmp_path / "f.csv"), env=env)
    assert export.code != 0 and "purged" in export.err
    # a receipt for the purged campaign creates nothing
    entries = [(0, "UNDELIV")]
    assert await OutcomeWriter(arq_redis).record(cid, 0, "sms", "delivery", entries) == -1
    assert set(await campaign_keys(arq_redis, cid)) <= SUMMARY | OWN_EXPIRY


async def test_the_sweep_purges_what_is_past_retention_or_older_than_asked(
    arq_redis: ArqRedis, tmp_path: Path
) -> None:
    cid = await submit_small(arq_redis, tmp_path)
    await api.cancel(cid, redis=arq_redis)
    now = time.time()
    assert await retention.sweep(arq_redis, now) == []
    assert await retention.sweep(arq_redis, now + 86400, older_than_days=2) == []
    assert await retention.sweep(arq_redis, now + 3 * 86400, older_than_days=2) == [cid]
    assert await arq_redis.exists(keys.batch(cid, 0)) == 0
    assert await retention.sweep(arq_redis, now + 100 * 86400) == []  # purged once
