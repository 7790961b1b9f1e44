"""Helpers of the SMS settling tests: the receipts service as a real process, its settings for the workers,
and what the receipts must show once a campaign settled."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import redis.asyncio as aioredis
import urllib3

from engine.provider.callbacks import receipt_url
from engine.runtime.redis_server import free_port
from engine.simulator import SimulatorThread
from engine.state.progress import counters
from engine.store import keys
from tests.dispatch.crashes import wait_until
from tests.processes import sim_get, sim_post

TOKEN = "sms-settle-token-0123456789"


@contextlib.contextmanager
def receipts_service(redis_url: str, env: Mapping[str, str], log: Path) -> Iterator[str]:
    """``koodispatch receipts`` as its own process (it rides out a Redis restart); yields its base URL."""
    port = free_port()
    environment = {**env, "REDIS_URL": redis_url, "KOODISPATCH_RECEIPTS_TOKEN": TOKEN}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "receipts", "--port", str(port)],
            env=environment,
            stdout=out,
            stderr=out,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib3.request("GET", url + "/healthz", timeout=1, retries=False)
                break
            except urllib3.exceptions.HTTPError:
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


def settling_env(timeout: float) -> dict[str, str]:
    """Worker settings with a short receipt timeout; the workers see the receipts service by its heartbeat
    (the simulator posts SMS reports to it as a KooMessage SMS application's report address would)."""
    return {"KOODISPATCH_DISPATCH__SMS_RECEIPT_TIMEOUT_SECONDS": str(timeout)}


def report_to(sim: SimulatorThread, receipts: str) -> None:
    """The simulator posts every status report to the receipts service (SMS ones also to the
    statusCallback the workers send), waiting out a Redis restart on the service's side."""
    callbacks = {
        "smart_batch_url": receipt_url(receipts, TOKEN, "smart"),
        "basic_url": receipt_url(receipts, TOKEN, "basic"),
        "sms_url": receipt_url(receipts, TOKEN, "sms"),
        "delay_ms": [20, 200],
        "outcomes": {"DELIVRD": 0.8, "UNDELIV": 0.2},
        "timeout_s": 60,
    }
    sim_post(sim, "/_simulator/config", {"callbacks": callbacks})


async def settled(redis: aioredis.Redis, cid: str) -> None:
    """Wait until no chunk of the campaign awaits its status reports."""

    async def none_awaiting() -> bool:
        return not await redis.zcard(keys.awaiting(cid))

    await wait_until(none_awaiting, "SMS chunks still awaiting their reports", max_wait=180)


async def all_reported(redis: aioredis.Redis, cid: str, channels: tuple[str, ...]) -> dict[str, int]:
    """Wait until every number accepted on ``channels`` has its status report recorded; the counters."""

    async def complete() -> bool:
        c = await counters(redis, cid)
        return all(
            c.get(f"delivered:{ch}", 0) + c.get(f"undelivered:{ch}", 0) == c.get(f"sent:{ch}", 0)
            for ch in channels
        )

    await wait_until(complete, "status reports missing", max_wait=120)
    return await counters(redis, cid)


def reported_numbers(sim: SimulatorThread, channel: str) -> set[str]:
    """Every number the simulator accepted on ``channel`` (its ledger)."""
    return set(sim_get(sim, "/_simulator/ledger?detail=1&channel=" + channel)[channel]["numbers"])
