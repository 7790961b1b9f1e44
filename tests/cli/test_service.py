"""The service commands run as subprocesses: ``run`` (all-in-one) and ``demo`` (its own Redis, simulator)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from engine.ingest.demo_data import generate_recipients
from engine.simulator import SimulatorThread
from tests.commands import SPEC, cli_env, folder, koodispatch, write


async def test_run_refusing_a_bad_file_leaves_no_folder_behind(
    tmp_path: Path, redis_url: str, redis_client: aioredis.Redis, sim: SimulatorThread
) -> None:
    temp = folder(tmp_path / "tmp")
    bad = write(tmp_path / "twice.csv", "mobile,mobile\n13000000001,13000000002\n")
    spec = write(tmp_path / "spec.toml", SPEC)

    run = await koodispatch(
        "run", str(spec), "--recipients", str(bad), env=cli_env(redis_url, sim.url, TMPDIR=str(temp))
    )

    assert run.code != 0 and run.out == ""
    [line] = run.err.splitlines()
    assert line.startswith("error: ") and "twice.csv" in line
    assert list(temp.iterdir()) == []  # the workers' log folder came before the check
    assert await redis_client.dbsize() == 0


@pytest.mark.slow
async def test_demo_runs_on_its_own_private_redis_and_simulator(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "KOODISPATCH_REDIS_URL", "FORCE_COLOR")
    }
    env["TMPDIR"] = str(tmp_path)  # the demo's data, logs and private Redis stay in the test's directory
    truth = generate_recipients(tmp_path / "expected.csv", 2_000)  # the demo's file: same size, same seed

    run = await koodispatch("demo", "--recipients", "2000", "--workers", "1", env=env)

    assert run.code == 0, run.err
    assert "— completed" in run.out
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip() for line in run.out.splitlines() if "│" in line
    }
    assert rows["导入号码总数(已去重) imported, de-duplicated"] == f"{truth.imported:,}"
    assert rows["无效号码数 invalid"] == f"{truth.invalid:,}"
    assert rows["not sent (paused/cancelled)"] == "0"
