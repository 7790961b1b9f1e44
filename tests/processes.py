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
from engine.types import TERMINAL, CampaignState

HTTP = urllib3.PoolManager()


def sim_get(url: str, path: str) -> Any:
    return orjson.loads(HTTP.request("GET", url + path).data)


def sim_post(url: str, path: str, body: Mapping[str, Any]) -> Any:
    return orjson.loads(HTTP.request("POST", url + path, body=orjson.dumps(body)).data)


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
