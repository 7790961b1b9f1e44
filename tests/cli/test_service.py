"""The service commands run as subprocesses: ``run`` (all-in-one) and ``demo`` (its own Redis, simulator)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import redis.asyncio as aioredis
import urllib3

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


def test_demo_into_a_pipe_streams_progress_fills_the_funnel_and_keeps_its_report(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "KOODISPATCH_REDIS_URL", "FORCE_COLOR")
    }
    env["TMPDIR"] = str(tmp_path)
    kept = tmp_path / "demo.json"
    demo = [sys.executable, "-m", "engine.cli", "demo", "--recipients", "2000", "--workers", "1"]
    with subprocess.Popen([*demo, "--json", str(kept)], env=env, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        line, console = "", ""
        while " numbers  rate " not in line:
            line = proc.stdout.readline()
            assert line, "the output ended without a progress line"
            if line.startswith("web console at "):
                console = line.split()[3]
            if line.startswith("log in with the token "):
                campaigns = _console_campaigns(console, line.split()[-1])  # the demo runs on: it serves
        streaming = proc.poll() is None  # the line came while the demo was still running
        rest = proc.stdout.read()
        assert proc.wait(timeout=180) == 0, rest
    assert streaming
    assert [c["name"] for c in campaigns] == ["demo"]
    funnel = orjson.loads(kept.read_bytes())["funnel"]
    assert funnel["smart"]["delivered"] > 0 and funnel["smart"]["awaiting"] == 0
    rows = [line.split() for line in rest.splitlines()]
    smart = next(row for row in rows if row[:1] == ["smart"] and len(row) == 7)
    assert smart[3] != "0" and smart[5] == "0"  # delivered, nothing awaited
    assert "`koodispatch report` cannot show this campaign again" in " ".join(rest.split())
    assert str(kept) in " ".join(rest.split())


def _console_campaigns(console: str, token: str) -> list[dict[str, object]]:
    """Log in to the demo's web console with its token and read the campaign list as the page does."""
    http = urllib3.PoolManager()
    base = console.removesuffix("/console/")
    login = http.request("POST", f"{base}/api/v1/session", json={"token": token})
    assert login.status == 200, login.data
    cookie = {"Cookie": login.headers["Set-Cookie"].split(";")[0]}
    page = http.request("GET", console, headers=cookie)
    assert page.status == 200 and "发送任务" in page.data.decode()
    found = http.request("GET", f"{base}/api/v1/campaigns", headers=cookie)
    items: list[dict[str, object]] = orjson.loads(found.data)["items"]
    return items
