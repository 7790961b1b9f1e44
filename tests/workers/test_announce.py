"""A worker says at start where it sends and with which credentials, masked; demo ones are named as such."""

from __future__ import annotations

from engine.simulator import SimulatorThread
from tests.commands import cli_env, koodispatch

AK = "REALLOOKINGAK0123456789"
SK = "real-looking-secret-key-0123456789"


async def test_a_worker_logs_the_provider_url_and_whether_the_demo_credentials_are_in_use(
    redis_url: str, sim: SimulatorThread
) -> None:
    demo = await koodispatch("worker", "--burst", env=cli_env(redis_url, sim.url))
    real = await koodispatch(
        "worker", "--burst", env=cli_env(redis_url, sim.url, KOODISPATCH_AK=AK, KOODISPATCH_SK=SK)
    )

    assert demo.code == 0, demo.err
    demo_line = f"provider KooMessage at {sim.url} with the DEMO credentials (the built-in simulator only)"
    assert demo_line in demo.err
    assert real.code == 0, real.err
    assert f"provider KooMessage at {sim.url} with key REAL…6789" in real.err
    assert SK not in real.err and AK not in real.err
