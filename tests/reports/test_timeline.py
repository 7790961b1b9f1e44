"""The send timeline as ``finish_chunk.lua`` writes it: 10-second buckets that show a 500/s peak as 500/s,
first and last send times, and a hash that stays small and expires."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from arq.connections import ArqRedis

from engine.reports import timeline
from engine.reports.summary import build_report
from engine.state import progress
from engine.state.progress import TIMELINE_STEP_SECONDS, TIMELINE_TTL_SECONDS, Progress, counters
from engine.state.records import ChunkRecord, ChunkState, Stage
from engine.store import keys
from engine.store.scripts import Scripts
from tests.failures import submit_small as submit

T0 = 1_765_000_000  # a multiple of 10: 2025-12-06 13:46:40 in Shanghai


class Clock:
    """``time.time`` for ``engine.state.progress``: the second each chunk's answer is recorded at."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = float(T0)
        monkeypatch.setattr(progress, "time", SimpleNamespace(time=lambda: self.now))


async def record(p: Progress, stage: Stage, chunk: int, accepted: int) -> None:
    done = ChunkRecord(ChunkState.DONE, f"ref-{stage.value}-{chunk}", accepted)
    assert await p.finish(stage, chunk, done, accepted, {})


async def test_a_500_per_second_burst_reads_500_per_second(
    arq_redis: ArqRedis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = await submit(arq_redis, tmp_path)
    clock = Clock(monkeypatch)
    p = Progress(arq_redis, Scripts(arq_redis), cid, 0)
    # 100/s for 20 s, then 500/s for 10 s, then 100/s again; a minute's average would say ~167/s
    plan = [(T0 + s, 100) for s in range(20)] + [(T0 + 20 + s, 500) for s in range(10)]
    plan += [(T0 + 30 + s, 100) for s in range(30)]
    for chunk, (second, accepted) in enumerate(plan):
        clock.now = second + 0.5
        await record(p, Stage.SMART, chunk, accepted)
    clock.now = T0 + 25.0
    await record(p, Stage.SMS, 0, 40)

    report = await build_report(arq_redis, cid)

    assert list(report.timeline)[:4] == [
        "2025-12-06T13:46:40+08:00", "2025-12-06T13:46:50+08:00",
        "2025-12-06T13:47:00+08:00", "2025-12-06T13:47:10+08:00",
    ]  # fmt: skip
    xs, series = timeline.rates(report.timeline, report.timeline_step)
    assert xs == list(range(T0, T0 + 60, 10))
    assert series["smart"] == [100, 100, 500, 100, 100, 100] and max(series["smart"]) == 500
    assert series["sms"] == [0, 0, 4, 0, 0, 0]
    assert timeline.recent_rate(report.timeline, T0 + 60.5) == 100  # the last 30 s of complete buckets
    assert (report.timing.first_sent_at, report.timing.last_sent_at) == (
        "2025-12-06T13:46:40+08:00", "2025-12-06T13:47:39+08:00",
    )  # fmt: skip


async def test_first_and_last_send_hold_whatever_order_answers_are_recorded_in(
    arq_redis: ArqRedis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = await submit(arq_redis, tmp_path)
    clock = Clock(monkeypatch)
    p = Progress(arq_redis, Scripts(arq_redis), cid, 0)
    for chunk, second in enumerate((T0 + 50, T0 + 10, T0 + 90, T0 + 30)):
        clock.now = second
        await record(p, Stage.SMART, chunk, 1)
    clock.now = T0
    await record(p, Stage.SMART, 9, 0)  # nothing accepted: not a send

    c = await counters(arq_redis, cid)
    assert (c["first_sent_at"], c["last_sent_at"]) == (T0 + 10, T0 + 90)


async def test_the_timeline_of_a_10m_campaign_stays_small_and_expires(
    arq_redis: ArqRedis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = await submit(arq_redis, tmp_path)
    clock = Clock(monkeypatch)
    p = Progress(arq_redis, Scripts(arq_redis), cid, 0)
    # 10M numbers at 1,000/s take 10,000 s: 1,000 buckets, smart and a fallback channel in each
    buckets = 1_000
    for bucket in range(buckets):
        clock.now = T0 + bucket * TIMELINE_STEP_SECONDS
        await record(p, Stage.SMART, bucket, 7_000)
        await record(p, Stage.SMS, bucket, 3_000)

    assert await arq_redis.hlen(keys.timeline(cid)) == 2 * buckets
    size = await arq_redis.memory_usage(keys.timeline(cid))
    # measured 160,576 bytes (~80 per field): 0.05 % of the 10M campaign's frozen batches (~314 MB)
    assert size is not None and size < 200_000
    assert 0 < await arq_redis.ttl(keys.timeline(cid)) <= TIMELINE_TTL_SECONDS
