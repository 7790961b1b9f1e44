"""Helpers for end-to-end tests: real worker processes, the simulator's ledger, waiting for a campaign."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from subprocess import Popen
from typing import Any

import orjson
import redis.asyncio as aioredis
import urllib3

from engine.cli.service import worker_processes
from engine.reports.summary import Report, build_report
from engine.simulator.handlers_admin import ADMIN_HEADER
from engine.simulator.testing import SimulatorThread
from engine.types import TERMINAL, CampaignState

HTTP = urllib3.PoolManager()


def _admin(sim: SimulatorThread, method: str, path: str, body: bytes | None = None) -> Any:
    """One call to the simulator's ``/_simulator/*`` endpoints, with its admin token."""
    headers = {ADMIN_HEADER: sim.admin_token, "Content-Type": "application/json"}
    answer = HTTP.request(method, sim.url + path, body=body, headers=headers)
    assert answer.status == 200, answer.data
    return orjson.loads(answer.data)


def sim_get(sim: SimulatorThread, path: str) -> Any:
    return _admin(sim, "GET", path)


def sim_post(sim: SimulatorThread, path: str, body: Mapping[str, Any]) -> Any:
    return _admin(sim, "POST", path, orjson.dumps(body))


def engine_env(redis_url: str, sim_url: str, **extra: str) -> dict[str, str]:
    """Environment of a worker process pointed at a test Redis DB and the simulator."""
    return {
        **os.environ,
        "REDIS_URL": redis_url,
        "KOODISPATCH_PROVIDER__KOOMESSAGE_URL": sim_url,
        "KOODISPATCH_PROVIDER__SMSAPI_URL": sim_url,
        **extra,
    }


def workers(
    count: int, env: Mapping[str, str], logs: Path, args: Sequence[str] = ()
) -> AbstractContextManager[list[Popen[bytes]]]:
    """Real ``koodispatch worker [args]`` processes, started and stopped as ``koodispatch run`` does."""
    return worker_processes(count, env["REDIS_URL"], env, logs, args)


async def wait_for(
    redis: aioredis.Redis, cid: str, states: frozenset[CampaignState] = TERMINAL, max_wait: float = 180
) -> Report:
    """Poll the report until the campaign reaches one of ``states``; fail with the last report on timeout."""
    deadline = time.monotonic() + max_wait
    report = await build_report(redis, cid)
    while CampaignState(report.state) not in states:
        if time.monotonic() > deadline:
            raise AssertionError(f"campaign {cid} still {report.state} after {max_wait}s: {report}")
        await asyncio.sleep(0.2)
        report = await build_report(redis, cid)
    return report


def spec(policy: str, **fallback: Any) -> dict[str, Any]:
    return {
        "name": f"e2e-{policy}",
        "smart": {
            "template_id": "100000001",
            "sms_params": ["name"],
            "dync_params": {"name": "name"},
            "expiration_days": 3,
        },
        "sms_channel": {
            "channel_number": "10690000",
            "sms_template_id": "sms_tpl_1",
            "signature": "华为云",
            "app_name": "e2e",
        },
        "fallback": {
            "policy": policy,
            "sms_params": ["name"],  # the preflight checks these against the simulator's templates
            "basic_template_id": "200000001",
            "basic_params": ["name"],
            **fallback,
        },
        "recipients": {"mobile_column": "mobile"},
    }
