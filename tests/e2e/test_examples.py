"""The shipped example specs, as shipped, pass ``plan`` and ``submit`` against ``koodispatch simulate``."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest
import redis.asyncio as aioredis

from engine.state import campaigns
from tests.commands import cli_env, koodispatch

EXAMPLES: Final = sorted((Path(__file__).parents[2] / "config" / "campaigns").glob("*.toml"))
LISTENING: Final = re.compile(r"listening on (http://\S+)")


@pytest.fixture(scope="module")
def simulate() -> Iterator[str]:
    """``koodispatch simulate`` as a user starts it (default catalogue), on a free port; yields its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "simulate", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        found = LISTENING.search(proc.stdout.readline())  # printed once it listens
        assert found, "koodispatch simulate did not start"
        yield found.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()


def test_every_example_is_found() -> None:
    assert {p.name for p in EXAMPLES} >= {"example.toml", "example-basic.toml"}


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
async def test_example_passes_plan_and_submit(
    example: Path, simulate: str, redis_url: str, redis_client: aioredis.Redis
) -> None:
    env = cli_env(redis_url, simulate)

    planned = await koodispatch("plan", str(example), env=env)
    assert planned.code == 0, planned.out + planned.err
    assert "preflight" not in planned.out + planned.err  # no preflight error, no preflight warning

    submitted = await koodispatch("submit", str(example), env=env)
    assert submitted.code == 0, submitted.err
    cid = submitted.out.splitlines()[0]
    record = await campaigns.load(redis_client, cid)
    assert record.spec.name and record.counts["accepted"] > 0
