"""Schemathesis against the served OpenAPI document: generated requests to every operation of a real
``koodispatch serve`` process (real Redis, the simulator); no answer is a 5xx, every one matches its schema.

The SSE operations are left out (a stream never ends; tests/service/test_campaigns.py reads them), and the
examples per operation are few, so the run stays within seconds.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
import schemathesis
import urllib3
from hypothesis import HealthCheck, settings

from engine.service.tokens import TokenStore
from engine.simulator import SimConfig, SimulatorThread
from tests.commands import cli_env
from tests.conftest import RedisPool

EXAMPLES = 8  # per operation
# "a request the schema allows is accepted": not so for what no schema can say — whether a template exists
# at the provider, a number is a mobile number, a rate lies in its channel's range. Those are 422 problems.
SKIP = "events$"  # a stream never ends
SEMANTIC = schemathesis.checks.positive_data_acceptance


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _admin_token(url: str) -> str:
    redis = aioredis.Redis.from_url(url)
    try:
        return (await TokenStore(redis).create("schemathesis", "admin"))[0]
    finally:
        await redis.aclose()


@pytest.fixture(scope="module")
def served(redis_pool: RedisPool, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL, admin token) of a ``koodispatch serve`` process on its own DB and simulator."""
    redis_url = redis_pool.take()
    port = _free_port()
    logs = tmp_path_factory.mktemp("serve") / "serve.log"
    with SimulatorThread(SimConfig(seed=1)) as sim, logs.open("wb") as log:
        env = cli_env(redis_url, sim.url, TMPDIR=str(logs.parent))
        proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "serve", "--port", str(port)],
                                env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_healthy(base, proc, logs)
            yield base, asyncio.run(_admin_token(redis_url))
        finally:
            proc.terminate()
            proc.wait(30)


def _wait_healthy(base: str, proc: subprocess.Popen[bytes], logs: Path) -> None:
    http = urllib3.PoolManager(retries=False)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, logs.read_text()
        try:
            if http.request("GET", base + "/healthz").status == 200:
                return
        except urllib3.exceptions.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"serve did not come up: {logs.read_text()}")


@pytest.fixture(scope="module")
def api_schema(served: tuple[str, str]) -> schemathesis.BaseSchema:
    loaded = schemathesis.openapi.from_url(served[0] + "/api/v1/openapi.json")
    loaded.config.update(headers={"Authorization": f"Bearer {served[1]}"})  # known as auth, not mutated
    loaded.config.phases.update(phases=["examples", "fuzzing"])  # the coverage phase alone takes a minute
    return loaded.exclude(path_regex=SKIP)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))  # fmt: skip
def test_every_operation_answers_within_its_schema_and_never_5xx(case: schemathesis.Case) -> None:
    response = case.call_and_validate(excluded_checks=[SEMANTIC])
    if case.operation.path != "/api/v1/session":  # the login: a generated token is unknown (401)
        assert response.status_code != 401  # the token went with every request: answers came past auth
