"""The board of campaigns running together: ``koodispatch demo --campaigns`` and ``koodispatch top``."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from arq.connections import ArqRedis

from engine import api
from engine.cli.board import RateMeter
from engine.cli.together import lineup
from engine.ingest.demo_data import generate_recipients
from engine.runtime.settings import load_settings
from engine.simulator import SimulatorThread
from tests.commands import cli_env, koodispatch
from tests.processes import spec


async def on_terminal(env: dict[str, str], *args: str) -> tuple[int, str]:
    """``koodispatch ARGS`` on a pseudo-terminal (util-linux ``script``): its exit code and what it drew."""
    command = shlex.join([sys.executable, "-m", "engine.cli", *args])
    proc = await asyncio.create_subprocess_exec(
        "script", "-qec", command, "/dev/null", env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


def test_the_rate_now_is_measured_over_the_last_window_only() -> None:
    meter = RateMeter(window=5.0)
    assert meter.add("c", 0, 100.0) == 0.0
    for second in range(1, 11):  # 1000/s for 10 s
        meter.add("c", 1000 * second, 100.0 + second)
    assert meter.add("c", 10_000, 111.0) == pytest.approx(800)  # 4000 since 106: stopped a second ago
    for second in range(12, 20):  # stopped for good: the window forgets the sending
        rate = meter.add("c", 10_000, 100.0 + second)
    assert rate == 0.0


def test_the_lineup_has_every_class_and_the_urgent_one_comes_last() -> None:
    plans = lineup(4, 10_000)
    assert [p.priority for p in plans] == ["bulk", "normal", "normal", "urgent"]
    assert [p.weight for p in plans] == [1, 1, 2, 1]
    assert plans[-1].after > 0 and plans[-1].rows < plans[0].rows
    assert '[budget]\npriority = "urgent"' in plans[-1].spec('name = "demo"\n')


@pytest.mark.slow
async def test_demo_with_three_campaigns_runs_each_exactly_and_the_urgent_one_ends_first(
    tmp_path: Path,
) -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "KOODISPATCH_REDIS_URL", "FORCE_COLOR")
    }
    env["TMPDIR"] = str(tmp_path)
    plans = lineup(3, 10_000)
    truths = {
        p.name: generate_recipients(tmp_path / f"{p.name}.csv", p.rows, seed=k) for k, p in enumerate(plans)
    }

    run = await koodispatch("demo", "--recipients", "10000", "--campaigns", "3", env=env)

    assert run.code == 0, run.err
    summary = {
        cells[0]: cells for line in run.out.splitlines() if "│" in line
        for cells in [[c.strip() for c in line.split("│")[1:-1]]]
    }  # fmt: skip
    for name, truth in truths.items():
        smart, sms, state = summary[name][2], summary[name][3], summary[name][5]
        assert state == "completed"
        assert int(smart.replace(",", "")) + int(sms.replace(",", "")) == truth.imported  # policy sms: all
    # the board streams plain lines through a pipe; the urgent campaign, submitted last, is done first
    board = [line for line in run.out.splitlines() if re.match(r"\d\d:\d\d:\d\d \S+ \[", line)]
    urgent_done = next(
        k for k, line in enumerate(board) if line.split()[1] == "urgent" and " completed " in line
    )
    assert any(line.split()[1] == "bulk" and " running " in line for line in board[urgent_done:])


async def test_top_once_lists_each_running_campaign_with_its_class(
    tmp_path: Path, redis_url: str, arq_redis: ArqRedis, sim: SimulatorThread
) -> None:
    generate_recipients(tmp_path / "r.csv", 300)
    settings = load_settings(provider={"koomessage_url": sim.url, "smsapi_url": sim.url})
    cids = []
    for name, priority in (("alerts", "urgent"), ("newsletter", "bulk")):
        body = {**spec("skip"), "name": name, "budget": {"priority": priority, "weight": 2}}
        result = await api.submit_campaign(
            body, redis=arq_redis, recipients=tmp_path / "r.csv", settings=settings, preflight=False
        )
        cids.append(result.cid)

    run = await koodispatch("top", "--once", env=cli_env(redis_url, sim.url))

    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert any("alerts" in line and "urgent ×2" in line and "0/" in line for line in lines), run.out
    assert any("newsletter" in line and "bulk ×2" in line for line in lines), run.out


async def test_the_live_board_draws_on_a_terminal_within_80_columns(
    tmp_path: Path, redis_url: str, arq_redis: ArqRedis, sim: SimulatorThread
) -> None:
    """Through a pseudo-terminal: rich's Live holds the console as a context manager (a lazy console that
    forwarded only attributes crashed here), and the board fits 80 columns."""
    generate_recipients(tmp_path / "r.csv", 300)
    settings = load_settings(provider={"koomessage_url": sim.url, "smsapi_url": sim.url})
    body = {**spec("skip"), "name": "weekly-digest", "budget": {"priority": "bulk"}}
    result = await api.submit_campaign(
        body, redis=arq_redis, recipients=tmp_path / "r.csv", settings=settings, preflight=False
    )
    await api.cancel(result.cid, redis=arq_redis)  # ended: the board draws once and returns
    env = {**cli_env(redis_url, sim.url), "COLUMNS": "80", "TERM": "xterm"}

    code, out = await on_terminal(env, "top", result.cid)

    assert code == 0, out
    lines = [line for line in re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out).splitlines() if line.strip()]
    assert any("weekly-digest" in line and "cancelled" in line for line in lines), lines
    assert max(len(line.rstrip()) for line in lines) <= 80
