"""The dispatcher in-process against the simulator: parameters, verdict cache, journal, reconciliation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from arq.connections import ArqRedis
from redis.exceptions import ResponseError

from engine import api
from engine.dispatch.batch_run import BatchRun, dispatch_batch
from engine.dispatch.context import EngineContext
from engine.dispatch.senders import Chunk, SmartSender, cut
from engine.plan import planner
from engine.provider.models import SendResult
from engine.reports.summary import build_report
from engine.resolve import resolver as engine_resolver
from engine.resolve.capability_cache import CapabilityCache
from engine.runtime.settings import Settings, load_settings
from engine.simulator import RunningSimulator
from engine.state import campaigns
from engine.state import jobs as queued_jobs
from engine.state.batches import load_batch
from engine.state.progress import Progress, open_chunks
from engine.state.records import ChunkRecord, ChunkState, Stage, Verdict
from engine.store import keys
from engine.store.packed import send_packed
from tests.conftest import SHARE
from tests.specs import make_spec, numbers, write
from workers import jobs as worker_jobs
from workers.context import KEY, WorkerContext
from workers.upkeep import Upkeep

LIFTED = {"smart": 1e6, "sms": 1e6, "basic": 1e6, "capability": 1e6}


@pytest.fixture
def settings(simulator: RunningSimulator) -> Settings:
    simulator.update_config({"capable_share": SHARE, "rates": dict.fromkeys(LIFTED)})
    provider = {"koomessage_url": simulator.url, "smsapi_url": simulator.url}
    # an unanswered call is surely over 2.5 s after it began: reconciliation waits no longer than that
    quick = {"connect_timeout": 1.0, "read_timeout": 1.0, "answer_grace": 0.5}
    return load_settings(provider=provider | quick, rates=LIFTED)


@pytest.fixture
async def engine(settings: Settings, arq_redis: ArqRedis) -> AsyncIterator[EngineContext]:
    ctx = await EngineContext.open(settings, arq_redis)
    async with ctx:
        yield ctx


async def run_all(ctx: EngineContext, cid: str, batches: int) -> None:
    for b in range(batches):
        outcome = await dispatch_batch(ctx, cid, b)
        assert outcome.result == "finished", outcome


async def test_sms_params_reach_the_provider_in_template_order(
    tmp_path: Path, engine: EngineContext, arq_redis: ArqRedis, simulator: RunningSimulator
) -> None:
    [number] = numbers(True, 1)
    path = write(tmp_path / "r.csv", {"mobile": [number], "name": ["张三"], "amount": ["88"], "x": ["y"]})
    spec = make_spec(sms_params=["amount", "name"], dync_params={"who": "name"})
    result = await planner.submit(arq_redis, engine.settings, spec, path)
    await run_all(engine, result.cid, result.batches)
    [task] = simulator.store.smart.values()
    assert task.first_param is not None
    assert task.first_param["sms_params"] == ["88", "张三"]
    assert task.first_param["dync_params"] == {"who": "张三"}
    assert task.cust_flags == [number]


async def test_capability_verdicts_are_cached_across_campaigns(
    tmp_path: Path, engine: EngineContext, arq_redis: ArqRedis, simulator: RunningSimulator
) -> None:
    mobiles = numbers(True, 150) + numbers(False, 150, start=13900000000)
    path = write(tmp_path / "r.csv", {"mobile": mobiles})
    first = await planner.submit(
        arq_redis, engine.settings, make_spec("skip").model_copy(update={"id": "one"}), path
    )
    await run_all(engine, first.cid, first.batches)
    checks = simulator.ledger.calls["capability"]
    assert checks == 3  # 300 numbers, ≤100 per call
    second = await planner.submit(
        arq_redis, engine.settings, make_spec("skip").model_copy(update={"id": "two"}), path
    )
    await run_all(engine, second.cid, second.batches)
    assert simulator.ledger.calls["capability"] == checks  # every verdict came from the cache
    report = await build_report(arq_redis, second.cid)
    assert (report.capable, report.not_capable, report.skipped) == (150, 150, 150)


async def test_verdicts_are_written_to_the_cache_while_a_batch_resolves_each_once(
    engine: EngineContext, arq_redis: ArqRedis, simulator: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every REMEMBER_AFTER fresh verdicts go to the cache as the checks answer (a crash loses at most
    that many), the rest at the end, and no verdict is written twice."""
    monkeypatch.setattr(engine_resolver, "REMEMBER_AFTER", 250)
    writes: list[dict[str, list[str]]] = []
    put = CapabilityCache.put

    async def noting(self: CapabilityCache, verdicts: dict[str, list[str]]) -> None:
        writes.append({verdict: list(got) for verdict, got in verdicts.items()})
        await put(self, verdicts)

    monkeypatch.setattr(CapabilityCache, "put", noting)
    mobiles = numbers(True, 600) + numbers(False, 450, start=13900000000)

    async def no_halt() -> None:
        return None

    known = await engine.resolver.classify(mobiles, None, no_halt)
    written = [number for write in writes for got in write.values() for number in got]
    assert sorted(written) == sorted(mobiles)  # each number once
    assert len(writes) >= 4 and all(sum(map(len, w.values())) >= 250 for w in writes[:-1])
    assert known == dict.fromkeys(mobiles[:600], "c") | dict.fromkeys(mobiles[600:], "n")
    assert await engine.resolver.cache.get(mobiles) == known


async def test_cached_verdicts_expire_and_unknown_numbers_are_left_out(
    engine: EngineContext, arq_redis: ArqRedis
) -> None:
    """The cache answers only for numbers it has a verdict younger than ``cache_ttl_hours`` for."""
    fresh, yesterday, stale, unknown = "13800000001", "13800000002", "13900000064", "13700000128"
    ttl = engine.resolver.cache.ttl
    assert ttl == 24 * 3600
    now = int(time.time())
    for number, verdict, at in (
        (fresh, "c", now),
        (yesterday, "n", now - 23 * 3600),
        (stale, "n", now - 25 * 3600),
    ):
        await CapabilityCache(arq_redis, ttl, clock=lambda at=at: at).put({verdict: [number]})

    async def no_halt() -> None:
        return None

    known = await engine.resolver.classify([unknown, fresh, stale, yesterday], None, no_halt, check=False)
    assert known == {fresh: "c", yesterday: "n"}
    day_keys = [k async for k in arq_redis.scan_iter(match=f"{keys.CAP_CACHE}*")]
    lifetimes = [await arq_redis.ttl(k) for k in day_keys]
    assert lifetimes and all(0 < t <= 2 * 24 * 3600 for t in lifetimes), "every day's verdicts expire"


async def test_an_error_reply_in_a_packed_pipeline_is_raised_after_every_reply_is_read(
    arq_redis: ArqRedis,
) -> None:
    await arq_redis.set("plain", "x")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await send_packed(arq_redis, ("HSET", "plain", "a", "1"), ("SET", "after", "y"))
    assert await arq_redis.get("after") == b"y"  # the command behind the error ran
    assert await send_packed(arq_redis, ("GET", "after")) == [b"y"]  # and its reply did not linger


def test_verdict_positions_partition_a_frozen_verdict_string() -> None:
    """Each number's index lands in exactly the list of its verdict, in order, as plain ints."""
    frozen = "".join("cnx"[(i * 7) % 3] if i % 11 else "c" for i in range(5000))
    found = {verdict: verdict.positions(frozen) for verdict in Verdict}
    assert sorted(i for indices in found.values() for i in indices) == list(range(5000))
    for verdict, indices in found.items():
        assert indices == sorted(indices) and all(frozen[i] == verdict.value for i in indices)
        assert all(type(i) is int for i in indices)
    assert Verdict.CAPABLE.positions("") == []


@pytest.mark.parametrize(
    ("queued", "first"),
    [((1_000, 1_000), "started"), ((5_000, 1_000), "queued")],  # arq's scores: ms when each job may run
    ids=["queued-together-started-first", "taken-over-queued-ahead-started-later"],
)
async def test_a_worker_gives_the_smart_budget_to_its_first_batch_in_queue_order(
    tmp_path: Path,
    settings: Settings,
    arq_redis: ArqRedis,
    simulator: RunningSimulator,
    queued: tuple[int, int],
    first: str,
) -> None:
    """Where the smart budget binds, a worker's batches do not share it evenly: the one first in the queue
    (a taken-over batch is queued ahead), or of those queued together the one started first, sends all its
    smart chunks first. Shared evenly, every batch of a worker reached its fallback stage at the same
    moment, and the smart budget stayed idle while they all sent SMS. Run through the worker's job
    function, with the job context arq gives it."""
    tight = settings.model_copy(
        update={
            "rates": settings.rates.model_copy(update={"smart": 1000.0}),  # 0.2 s burst: two calls of 100
            "dispatch": settings.dispatch.model_copy(update={"batch_size": 1000}),
        }
    )
    path = write(tmp_path / "r.csv", {"mobile": numbers(True, 2000)})
    result = await planner.submit(arq_redis, tight, make_spec("skip"), path)
    assert result.batches == 2
    async with await EngineContext.open(tight, arq_redis) as ctx:
        worker = WorkerContext(ctx, Upkeep(arq_redis, tight.dispatch.lease_seconds, ctx.clock))

        def job(batch: int, score: int) -> asyncio.Task[dict[str, Any]]:
            job_id = queued_jobs.job_id(result.cid, batch, 0)  # what arq passes besides
            job_ctx = {KEY: worker, "redis": arq_redis, "score": score, "job_id": job_id}
            return asyncio.create_task(worker_jobs.dispatch_batch(job_ctx, result.cid, batch))

        one = job(1, queued[0])
        # its checks are out, then 8 of its 10 smart chunks (CHUNKS_IN_PARALLEL); the other batch's arrive
        # before its last 2: once the burst's calls were accepted (not after a fixed sleep: a loaded
        # machine may not have sent them yet)
        for _ in range(5000):
            if len(simulator.store.smart) >= 2:
                break
            await asyncio.sleep(0.002)
        zero = job(0, queued[1])
        outcomes = await asyncio.gather(one, zero)
    assert [outcome["result"] for outcome in outcomes] == ["finished", "finished"]
    # the batch of each smart call, in the order the simulator accepted them
    sent = "".join(task.task_name.split(":")[1] for task in simulator.store.smart.values())
    if first == "started":
        assert sent == "1" * 10 + "0" * 10
    else:  # batch 1 had the burst and the calls admitted before batch 0 queued; then batch 0 went first
        before = len(sent) - len(sent.lstrip("1"))
        assert 2 <= before < 10 and sent == "1" * before + "0" * 10 + "1" * (10 - before), sent


async def test_finished_batch_is_never_sent_again(
    tmp_path: Path, engine: EngineContext, arq_redis: ArqRedis, simulator: RunningSimulator
) -> None:
    mobiles = numbers(True, 250) + numbers(False, 120, start=13900000000)
    path = write(tmp_path / "r.csv", {"mobile": mobiles})
    result = await planner.submit(arq_redis, engine.settings, make_spec("sms"), path)
    await run_all(engine, result.cid, result.batches)
    before = simulator.ledger.snapshot()
    journal = await arq_redis.hgetall(keys.journal(result.cid, 0))
    states = {k.decode(): ChunkRecord.decode(v).state for k, v in journal.items()}
    assert states == {
        "smart:0": ChunkState.DONE,
        "smart:1": ChunkState.DONE,
        "smart:2": ChunkState.DONE,
        "sms:0": ChunkState.DONE,
    }
    # a re-delivered job (e.g. arq retry after a lost result) changes nothing
    await arq_redis.hset(keys.campaign(result.cid), "state", "running")
    await dispatch_batch(engine, result.cid, 0)
    assert simulator.ledger.snapshot() == before


async def test_in_flight_chunk_that_landed_is_reconciled_not_resent(
    tmp_path: Path, engine: EngineContext, arq_redis: ArqRedis, simulator: RunningSimulator
) -> None:
    mobiles = numbers(True, 200)
    path = write(tmp_path / "r.csv", {"mobile": mobiles})
    result = await planner.submit(arq_redis, engine.settings, make_spec("skip"), path)
    # every smart call lands but its answer is lost: the worker must reconcile, not resend
    simulator.update_config({"channel_faults": {"smart": {"drop_after_accept_share": 1.0}}})
    await run_all(engine, result.cid, result.batches)
    ledger = simulator.ledger.snapshot()
    assert ledger["smart"]["unique"] == 200 and ledger["smart"]["duplicates"] == 0
    report = await build_report(arq_redis, result.cid)
    assert report.sent["smart"] == 200 and report.state == "completed"
    journal = await arq_redis.hgetall(keys.journal(result.cid, 0))
    assert {ChunkRecord.decode(v).path for v in journal.values()} == {"reconciled"}
    assert await open_chunks(arq_redis, result.cid, result.batches) == 0


async def test_a_cancel_settles_calls_a_dead_worker_left_in_flight_without_sending_any(
    tmp_path: Path, engine: EngineContext, arq_redis: ArqRedis, simulator: RunningSimulator
) -> None:
    mobiles = numbers(True, 200)
    path = write(tmp_path / "r.csv", {"mobile": mobiles})
    spec = make_spec("skip")
    result = await planner.submit(arq_redis, engine.settings, spec, path)
    cid = result.cid
    record = await campaigns.load(arq_redis, cid)
    batch = await load_batch(arq_redis, cid, 0, record.spec.param_columns())
    await engine.resolver.freeze(cid, 0, Verdict.CAPABLE.value * len(batch.numbers))
    landed, never = cut(f"{cid}:0:smart", range(len(batch.numbers)), 100)
    # a worker marks both calls in flight, one reaches the provider, then the worker dies
    async with engine.leases.hold(cid, 0) as lease:
        assert lease is not None
        past = engine.clock.now() - 1  # both calls' deadlines have passed
        for k, chunk in enumerate((landed, never)):
            mark = ChunkRecord(ChunkState.IN_FLIGHT, chunk.ref, 100, attempts=1, deadline=past)
            await Progress(arq_redis, engine.scripts, cid, 0).in_flight(lease, Stage.SMART, k, mark)
        await SmartSender(engine.koomessage, record.spec).send(landed, batch)
    await api.cancel(cid, redis=arq_redis)
    outcome = await dispatch_batch(engine, cid, 0)  # the dead worker's batch taken over after the cancel
    assert outcome.result == "halted"
    ledger = simulator.ledger.snapshot()
    assert ledger["smart"]["unique"] == 100 and ledger["smart"]["duplicates"] == 0  # nothing sent again
    report = await build_report(arq_redis, cid)
    assert report.state == "cancelled" and report.in_flight == 0
    assert report.sent["smart"] == 100 and report.unsent == 100
    journal = await arq_redis.hgetall(keys.journal(cid, 0))
    paths = {k.decode(): ChunkRecord.decode(v).path for k, v in journal.items()}
    assert paths == {"smart:0": "reconciled", "smart:1": "not_landed"}


async def test_scheduled_campaign_is_deferred_to_its_start(
    tmp_path: Path, settings: Settings, arq_redis: ArqRedis
) -> None:
    path = write(tmp_path / "r.csv", {"mobile": numbers(True, 3)})
    start = datetime.now(UTC) + timedelta(hours=2)
    spec = make_spec("skip").model_copy(
        update={"schedule": make_spec().schedule.model_copy(update={"start_at": start})}
    )
    result = await planner.submit(arq_redis, settings, spec, path)
    assert result.state == "scheduled"
    queued = await arq_redis.zrange(keys.QUEUE, 0, -1, withscores=True)
    assert len(queued) == 1
    assert queued[0][1] == pytest.approx(start.timestamp() * 1000, abs=2000)


async def test_per_number_failures_inside_an_accepted_call_are_recorded_once(
    tmp_path: Path, engine: EngineContext, arq_redis: ArqRedis
) -> None:
    mobiles = numbers(True, 3)
    path = write(tmp_path / "r.csv", {"mobile": mobiles})
    result = await planner.submit(arq_redis, engine.settings, make_spec("skip"), path)
    record = await campaigns.load(arq_redis, result.cid)
    batch = await load_batch(arq_redis, result.cid, 0, [])
    async with engine.leases.hold(result.cid, 0) as lease:
        assert lease is not None
        run = BatchRun(engine, record, batch, lease)
    sender = SmartSender(engine.koomessage, record.spec)
    chunk = Chunk("ref", (0, 1, 2))
    answer = SendResult("task-1", (mobiles[0],), {mobiles[1]: "E200028", mobiles[2]: "KM.00001084"})
    for _ in range(2):  # a second recorder (e.g. a takeover racing a slow worker) changes nothing
        await run._record(sender, 0, chunk, answer, path="sent", attempts=1)
    report = await build_report(arq_redis, result.cid)
    assert report.sent["smart"] == 1 and report.failed == 2
    assert report.failed_by_reason == {"params": 1, "invalid_number": 1}
    assert report.failed_by_channel == {"smart": 2}
    assert report.funnel["smart"].failed_by_reason == {"params": 1, "invalid_number": 1}
    failed = await arq_redis.hgetall(keys.failed(result.cid))
    assert set(failed) == {mobiles[1].encode(), mobiles[2].encode()}


async def test_call_the_provider_never_got_is_resent_after_backoff(
    tmp_path: Path, engine: EngineContext, arq_redis: ArqRedis, simulator: RunningSimulator
) -> None:
    mobiles = numbers(True, 100)
    path = write(tmp_path / "r.csv", {"mobile": mobiles})
    result = await planner.submit(arq_redis, engine.settings, make_spec("skip"), path)
    # the connection drops before the provider processes the call: ambiguous to us, nothing landed
    simulator.update_config({"channel_faults": {"smart": {"drop_share": 1.0}}})
    run = asyncio.create_task(dispatch_batch(engine, result.cid, 0))
    for _ in range(400):  # until two sends were dropped, reconciled as "not found" and resent
        if simulator.ledger.faults["drop"]["smart"] >= 2:
            break
        await asyncio.sleep(0.05)
    simulator.update_config({"channel_faults": {"smart": None}})
    assert (await run).result == "finished"
    ledger = simulator.ledger.snapshot()
    assert ledger["smart"]["unique"] == 100 and ledger["smart"]["duplicates"] == 0
    [record] = [
        ChunkRecord.decode(v) for v in (await arq_redis.hgetall(keys.journal(result.cid, 0))).values()
    ]
    assert record.path == "resent" and record.attempts >= 3
