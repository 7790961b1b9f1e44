"""``koodispatch plan`` on the command line: what stops it, what it warns about, what it says it did."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from engine.simulator import SimulatorThread
from tests.commands import GOOD, SPEC, cli_env, koodispatch, write
from tests.terminal import terminal


def _spec(tmp: Path, extra: str = "") -> str:
    write(tmp / "r.csv", GOOD)
    return str(write(tmp / "spec.toml", SPEC + extra + '\n[recipients]\nfile = "r.csv"\n'))


@pytest.mark.parametrize(
    ("where", "extra", "expect"),
    [
        ("sim", {"KOODISPATCH_AK": "WRONGAK0000000000000"}, "Incorrect IAM authentication"),
        ("http://127.0.0.1:1", {}, "127.0.0.1:1"),
    ],
    ids=["wrong-credentials", "unreachable"],
)
async def test_plan_fails_when_the_provider_refuses_us_or_cannot_be_reached(
    tmp_path: Path, redis_url: str, sim: SimulatorThread, where: str, extra: dict[str, str], expect: str
) -> None:
    env = cli_env(redis_url, sim.url if where == "sim" else where, **extra)

    run = await koodispatch("plan", _spec(tmp_path), env=env)
    offline = await koodispatch("plan", _spec(tmp_path), "--skip-preflight", env=env)

    assert run.code == 1, run.out + run.err
    assert "preflight error: templates not checked" in run.out and expect in " ".join(run.out.split())
    assert offline.code == 0, offline.err
    assert "templates not checked (preflight skipped)" in offline.out


def _screen(*args: str, env: dict[str, str]) -> str:
    """What ``koodispatch ARGS`` shows on an 80-column terminal, lines joined (rich wraps long ones)."""
    with terminal(*args, env=env) as term:
        assert term.wait() == 0, term.text
    return " ".join(term.text.split())


def test_cost_names_the_prices_to_set_until_a_config_file_gives_them(
    tmp_path: Path, redis_url: str, sim: SimulatorThread
) -> None:
    env = cli_env(redis_url, sim.url)
    prices = write(tmp_path / "prices.toml", "[prices]\nsmart = 0.05\nsms_segment = 0.04\nbasic = 0.2\n")

    unset = _screen("plan", _spec(tmp_path), env=env)
    given = _screen("--config", str(prices), "plan", _spec(tmp_path), env=env)

    assert "cost: set [prices] smart (KOODISPATCH_PRICES__SMART)" in unset and "cost: 0.00" not in unset
    assert re.search(r"cost: 0\.\d\d CNY \(smart 0\.05, SMS 0\.\d\d, basic 0\.00\)", given), given


async def test_capability_answers_are_said_to_be_cached_only_in_a_shared_redis(
    tmp_path: Path, redis_url: str, sim: SimulatorThread
) -> None:
    shared = cli_env(redis_url, sim.url)
    private = {k: v for k, v in shared.items() if k not in ("REDIS_URL", "KOODISPATCH_REDIS_URL")}
    private["TMPDIR"] = str(tmp_path)

    kept = await koodispatch("plan", _spec(tmp_path), "--check-capability", env=shared)
    lost = await koodispatch("plan", _spec(tmp_path), "--check-capability", env=private)

    assert kept.code == 0 and "capability calls (now cached)" in " ".join(kept.out.split())
    assert lost.code == 0, lost.err
    assert "(not kept: no REDIS_URL, this plan's private Redis is gone)" in " ".join(lost.out.split())


async def test_plan_and_submit_warn_that_the_send_window_is_closed_now(
    tmp_path: Path, redis_url: str, sim: SimulatorThread
) -> None:
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    hours = f"{now + timedelta(hours=2):%H:%M}-{now + timedelta(hours=3):%H:%M}"
    spec = _spec(tmp_path, f'\n[schedule]\nwindow = "{hours}"\n')
    env = cli_env(redis_url, sim.url)

    planned = await asyncio.to_thread(_screen, "plan", spec, env=env)
    submitted = await koodispatch("submit", spec, env=env)

    warning = f"the send window {hours} is closed now: nothing is sent until it opens"
    assert warning in planned and re.search(r"Asia/Shanghai, in (1 h 59 min|2 h)", planned), planned
    assert submitted.code == 0 and f"warning: {warning}" in " ".join(submitted.err.split())
