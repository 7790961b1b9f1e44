"""A worker process stopped by SIGTERM in the middle of a queue ends cleanly: exit 0, a quiet log."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from arq.connections import ArqRedis

from engine import api
from engine.runtime.settings import load_settings
from engine.simulator import SimulatorThread
from engine.store import keys
from tests.processes import engine_env, workers
from tests.specs import make_spec, numbers, write

JOBS = 6_000
ROUNDS, WORKERS = 3, 3
STOP_AFTER = 200  # jobs finished in a round before its workers are stopped


async def test_sigterm_while_arq_is_inside_its_own_pipelines_leaves_no_unclosed_pipeline_or_error(
    tmp_path: Path, redis_url: str, arq_redis: ArqRedis, sim: SimulatorThread
) -> None:
    """One-number batches of a cancelled campaign: each job ends at once, so with 64 jobs at a time arq is
    nearly always inside one of its own Redis pipelines (taking a job under WATCH, reading it, recording
    its end) when the signal lands: the case that left a pipeline holding its connection ("Unclosed
    Pipeline client") and made arq's close() raise CancelledError (a traceback, exit 1)."""
    path = write(tmp_path / "r.csv", {"mobile": numbers(True, JOBS), "name": ["a"] * JOBS})
    settings = load_settings(dispatch={"batch_size": 1, "campaign_window": JOBS})  # all queued at once
    spec = make_spec("sms", sms_params=["name"])
    submitted = await api.submit_campaign(
        spec, redis=arq_redis, recipients=path, settings=settings, preflight=False
    )
    cid = submitted.cid
    await api.cancel(cid, redis=arq_redis)
    env = engine_env(redis_url, sim.url, KOODISPATCH_DISPATCH__WORKER_CONCURRENCY="64")

    for round_ in range(ROUNDS):
        logs = tmp_path / f"round-{round_}"
        logs.mkdir()
        with workers(WORKERS, env, logs) as procs:
            await _all_running(arq_redis, logs)
        # leaving the block stopped them with SIGTERM and waited for them
        assert await arq_redis.zcard(keys.QUEUE) > 0, "stopped after the queue ran dry: make it longer"
        for index, proc in enumerate(procs):
            log = (logs / f"worker-{index}.log").read_text()
            noisy = [line for line in log.splitlines() if "Unclosed" in line or " ERROR " in line]
            assert "shutdown on SIGTERM" in log and not noisy and "Traceback" not in log, log[-3000:]
            assert proc.returncode == 0


async def _all_running(redis: ArqRedis, logs: Path) -> None:
    """Until every worker has started jobs and STOP_AFTER more jobs have ended."""
    deadline = time.monotonic() + 120
    left = await redis.zcard(keys.QUEUE)

    def started() -> bool:
        return all("dispatch_batch(" in (logs / f"worker-{i}.log").read_text() for i in range(WORKERS))

    while await redis.zcard(keys.QUEUE) > left - STOP_AFTER or not started():
        assert time.monotonic() < deadline, "the workers did not get to the queued jobs"
        await asyncio.sleep(0.02)
