"""Contact-frequency caps with real worker processes: a number at the account's limit is not sent again by
another campaign (reason frequency_cap, counted in the report, forecast by plan), an urgent campaign is
exempt, and the simulator's ledger shows no number got more than its limit."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from arq.connections import ArqRedis

from engine import api
from engine.runtime.settings import Settings, load_settings
from engine.simulator import SimulatorThread
from tests.processes import engine_env, sim_get, spec, wait_for, workers
from tests.specs import write

pytestmark = pytest.mark.slow
LIMIT = '["1/24h"]'  # one message per number per rolling day, on both channels a campaign here uses


def settings(sim: SimulatorThread) -> Settings:
    return load_settings(
        provider={"koomessage_url": sim.url, "smsapi_url": sim.url},
        contacts={"smart": ["1/24h"], "sms": ["1/24h"]},
    )


async def submit(redis: ArqRedis, sim: SimulatorThread, path: Path, numbers: list[str], **budget: Any) -> str:
    write(path, {"mobile": numbers, "name": [f"n{i}" for i in range(len(numbers))]})
    body = {**spec("sms"), "name": path.stem, "budget": budget}
    result = await api.submit_campaign(
        body, redis=redis, recipients=path, settings=settings(sim), preflight=False
    )
    return result.cid


async def test_a_number_at_its_limit_is_not_sent_again_by_another_campaign(
    tmp_path: Path, redis_url: str, arq_redis: ArqRedis, sim: SimulatorThread
) -> None:
    first = [str(13_800_000_000 + 3 * i) for i in range(3000)]
    second = first[1500:] + [str(13_900_000_000 + 3 * i) for i in range(1500)]
    env = engine_env(redis_url, sim.url, KOODISPATCH_CONTACTS__SMART=LIMIT, KOODISPATCH_CONTACTS__SMS=LIMIT)
    with workers(2, env, tmp_path):
        a = await submit(arq_redis, sim, tmp_path / "first.csv", first)
        report_a = await wait_for(arq_redis, a)
        write(tmp_path / "second.csv", {"mobile": second, "name": ["x"] * len(second)})
        forecast = await api.plan_campaign(
            {**spec("sms"), "name": "second"},
            redis=arq_redis,
            recipients=tmp_path / "second.csv",
            settings=settings(sim),
        )
        b = await submit(arq_redis, sim, tmp_path / "second.csv", second)
        report_b = await wait_for(arq_redis, b)
        urgent = await submit(arq_redis, sim, tmp_path / "urgent.csv", first[:500], priority="urgent")
        report_u = await wait_for(arq_redis, urgent)

    assert sum(report_a.sent.values()) == reached(sim, first) > 2900
    assert report_a.failed_by_reason.get("frequency_cap", 0) == 0
    assert report_b.failed_by_reason["frequency_cap"] == reached(sim, first[1500:])
    assert forecast.frequency_capped == report_b.failed_by_reason["frequency_cap"]
    assert forecast.frequency_exact
    assert sum(report_b.sent.values()) == reached(sim, second[1500:])
    assert sum(report_u.sent.values()) == reached(sim, first[:500], at_least=2) > 0  # exempt: sent again
    assert report_u.failed_by_reason.get("frequency_cap", 0) == 0
    per_number = messages(sim)
    assert max(per_number[n] for n in first[500:] + second[1500:]) == 1  # never over the limit


def messages(sim: SimulatorThread) -> Counter[str]:
    """Messages accepted per number, over every channel."""
    ledger = sim_get(sim, "/_simulator/ledger?detail=1")
    total: Counter[str] = Counter()
    for channel in ("smart", "sms", "basic"):
        for number, seen in ledger[channel]["numbers"].items():
            total[number] += seen["count"]
    return total


def reached(sim: SimulatorThread, numbers: list[str], at_least: int = 1) -> int:
    """How many of ``numbers`` the provider accepted at least ``at_least`` messages for."""
    per_number = messages(sim)
    return sum(per_number[n] >= at_least for n in numbers)
