"""The forecast: segment rules, and a plan whose calls and counts equal what the run then does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from arq.connections import ArqRedis

from engine import api
from engine.dispatch.batch_run import dispatch_batch
from engine.dispatch.context import EngineContext
from engine.ingest.demo_data import generate_recipients
from engine.ingest.spec import CampaignSpec
from engine.plan.forecast import LINK_CHARS, UNKNOWN, Inputs, SmsText, forecast, segments
from engine.reports.summary import build_report
from engine.runtime.settings import PriceSettings, Settings, load_settings
from engine.simulator import RunningSimulator, SimulatorThread
from engine.simulator.capability import is_capable
from tests.commands import cli_env, koodispatch, locked, unprivileged, write

SHARE = 0.7
LIFTED = {"smart": 1e6, "sms": 1e6, "basic": 1e6, "capability": 1e6}
PRICES = {"smart": 0.1, "sms_segment": 0.04, "basic": 0.25, "currency": "CNY"}


@pytest.mark.parametrize(
    ("chars", "expected"),
    [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)],
)
def test_segments_at_the_70_and_67_boundaries(chars: int, expected: int) -> None:
    assert segments(chars) == expected


@pytest.mark.parametrize(
    ("content", "signature", "value", "chars", "parts"),
    [
        ("您" * 63, "华为云", "", 68, 1),  # 【华为云】 = 5 characters
        ("您" * 63, "华为云", "张三", 70, 1),
        ("您" * 63, "华为云", "张三丰", 71, 2),
        ("a" * 61, "HW", "abcde", 70, 1),  # ASCII counts one per character, as Chinese does
        ("a" * 61, "HW", "abcdef", 71, 2),
        ("${1}" + "好" * 120, "华为云", "x" * 9, 134, 2),
        ("${TEXT}" + "好" * 120, "华为云", "x" * 10, 135, 3),
    ],
)
def test_characters_and_segments_per_recipient(
    content: str, signature: str, value: str, chars: int, parts: int
) -> None:
    text = SmsText.of("t", content, signature, links=0)
    result = forecast(_inputs({"mobile": ["13800000000"], "name": [value]}, "c", {"t": text}))
    [sms] = result.sms.values()
    assert (sms.max_chars, sms.segments) == (chars, parts)


def test_the_short_link_counts_at_its_real_length() -> None:
    text = SmsText.of("t", "点击${1}查看", "华为云", links=1)
    result = forecast(_inputs({"mobile": ["13800000000"], "name": [""]}, "c", {"t": text}))
    assert len("km2g.cn/PDiWqc") == LINK_CHARS
    assert result.sms["smart"].max_chars == 4 + 5 + LINK_CHARS


def test_eta_is_set_by_the_slowest_budget_and_a_short_window_warns() -> None:
    numbers = [str(13800000000 + i) for i in range(3000)]
    frame = {"mobile": numbers, "name": ["n"] * 3000}
    verdicts = "c" * 2000 + "n" * 1000
    rates = {"smart": 100.0, "sms": 1000.0, "basic": 1000.0, "capability": 1000.0}
    result = forecast(_inputs(frame, verdicts, {}, rates=rates, window="08:00-08:10"))
    assert result.eta_seconds == 20.0 and result.bottleneck == "smart"
    assert not any("window" in w for w in result.warnings)
    assert "SMS template t: text unknown, its segments and cost are left out" in result.warnings
    assert not result.cost.complete
    slow = forecast(_inputs(frame, verdicts, {}, rates={**rates, "smart": 1.0}, window="08:00-08:10"))
    assert slow.eta_seconds == 2000.0
    assert any("08:00-08:10 is open 10m00s a day: it spans 4 days" in w for w in slow.warnings)


def test_unknown_numbers_count_as_smart_and_make_the_forecast_inexact() -> None:
    frame = {"mobile": [str(13800000000 + i) for i in range(250)], "name": ["n"] * 250}
    result = forecast(_inputs(frame, "c" * 100 + UNKNOWN * 150, {}))
    assert not result.exact and result.split["unknown"] == 150
    assert result.messages["smart"] == 250 and result.calls["smart"] == 3
    assert result.messages["capability"] == 150 and result.calls["capability"] == 2
    assert any("unknown capability" in w for w in result.warnings)


# -- plan, then run: the forecast must equal what happened ---------------------------------------------


def spec(policy: str) -> dict[str, Any]:
    fallback = {"sms": {"sms_template_id": "sms_tpl_2", "sms_params": ["name", "amount"]}}
    return {
        "name": f"plan-{policy}",
        "smart": {"template_id": "100000001", "sms_params": ["name"], "dync_params": {"name": "name"}},
        "sms_channel": {
            "channel_number": "10690000",
            "sms_template_id": "sms_tpl_1",
            "signature": "华为云",
            "app_name": "demo-app",
        },
        "fallback": {"policy": policy, **fallback.get(policy, {})},
        "recipients": {"mobile_column": "mobile"},
    }


@pytest.fixture
def settings(simulator: RunningSimulator) -> Settings:
    simulator.update_config({"capable_share": SHARE, "rates": dict.fromkeys(LIFTED)})
    return load_settings(
        provider={"koomessage_url": simulator.url, "smsapi_url": simulator.url}, rates=LIFTED, prices=PRICES
    )


async def test_a_checked_plan_equals_the_run(
    tmp_path: Path, settings: Settings, arq_redis: ArqRedis, simulator: RunningSimulator
) -> None:
    truth = generate_recipients(tmp_path / "r.csv", 12_000, seed=5)
    capable = [n for n in truth.numbers.to_list() if is_capable(n, SHARE)]
    plan = await api.plan_campaign(
        spec("sms"), redis=arq_redis, recipients=tmp_path / "r.csv", settings=settings, check_capability=True
    )
    assert await arq_redis.keys("kd:{*") == []  # no campaign state
    checks = simulator.ledger.calls["capability"]
    assert plan.checked_calls == checks == sum(-(-n // 100) for n in _batch_sizes(truth.imported))
    assert sum(simulator.ledger.calls[c] for c in ("smart", "sms", "basic")) == 0  # nothing sent
    assert plan.exact and plan.errors == ()
    assert plan.counts["imported"] == truth.imported and plan.counts["duplicates"] == truth.duplicates
    assert plan.split["capable"] == len(capable)

    await _run(settings, arq_redis, spec("sms"), tmp_path / "r.csv")

    assert {c: simulator.ledger.calls[c] for c in plan.calls} == {**plan.calls, "capability": checks}
    assert plan.calls["capability"] == 0  # the run found every verdict in the cache
    report = await _only_report(arq_redis)
    assert (report.capable, report.not_capable) == (plan.split["capable"], plan.split["not_capable"])
    assert report.sent == {c: plan.messages[c] for c in ("smart", "sms", "basic")}
    assert report.skipped == plan.skipped == 0
    carrier = {
        n: name for n, name in zip(truth.numbers.to_list(), truth.frame["name"].to_list(), strict=True)
    }
    fixed = len("您好，您的专属权益已到账，点击查看") + len("【华为云】") + LINK_CHARS
    expected = sum(segments(fixed + len(carrier[n])) for n in capable)
    assert plan.sms["smart"].segments == expected and plan.sms["smart"].messages == len(capable)
    cost = plan.cost
    assert cost.smart == pytest.approx(len(capable) * 0.1)
    assert cost.sms == pytest.approx((expected + plan.sms["sms"].segments) * 0.04) and cost.complete


async def test_an_unchecked_plan_counts_the_capability_calls_the_run_makes(
    tmp_path: Path, settings: Settings, arq_redis: ArqRedis, simulator: RunningSimulator
) -> None:
    truth = generate_recipients(tmp_path / "r.csv", 12_000, seed=6)
    plan = await api.plan_campaign(
        spec("skip"), redis=arq_redis, recipients=tmp_path / "r.csv", settings=settings
    )
    assert simulator.ledger.calls["capability"] == 0 and not plan.exact
    assert plan.split["unknown"] == truth.imported
    await _run(settings, arq_redis, spec("skip"), tmp_path / "r.csv")
    assert simulator.ledger.calls["capability"] == plan.calls["capability"]
    report = await _only_report(arq_redis)
    assert report.skipped == report.not_capable and simulator.ledger.calls["sms"] == 0


async def test_the_cli_prints_the_forecast_and_fails_on_a_preflight_error(
    tmp_path: Path, simulator_thread: SimulatorThread, redis_url: str
) -> None:
    generate_recipients(tmp_path / "r.csv", 300, seed=8)
    env = cli_env(redis_url, simulator_thread.url)
    good = tmp_path / "good.toml"
    good.write_text(_toml(spec("sms"), "r.csv"), encoding="utf-8")
    run = await koodispatch("plan", str(good), "--check-capability", "--json", env=env)
    assert run.code == 0, run.err
    data = orjson.loads(run.out)
    assert data["exact"] and data["calls"]["capability"] == 0 and data["checked_calls"] == 3
    bad = tmp_path / "bad.toml"
    bad.write_text(_toml({**spec("skip"), "smart": {"template_id": "100000009"}}, "r.csv"), encoding="utf-8")
    run = await koodispatch("plan", str(bad), env=env)
    assert run.code == 1 and "preflight error: smart.template_id: template 100000009 not found" in run.out
    assert "provider calls" in run.out


async def test_the_cli_refuses_an_unreadable_recipient_file_in_one_line(
    tmp_path: Path, simulator_thread: SimulatorThread, redis_url: str
) -> None:
    """It was a traceback of 68 lines from the encoding check (no campaign state is written either way)."""
    locked(write(tmp_path / "r.csv", "mobile\n13800138000\n"))
    plan = write(tmp_path / "plan.toml", _toml(spec("sms"), "r.csv"))
    env = cli_env(redis_url, simulator_thread.url)
    run = await koodispatch("plan", str(plan), env=env, prefix=unprivileged())
    assert run.code != 0 and run.out == ""
    assert run.err.splitlines() == [f"error: {tmp_path / 'r.csv'}: cannot read the file: Permission denied"]


def _toml(data: dict[str, Any], recipients: str) -> str:
    """A spec dict as TOML (tables of strings, lists and one level of nesting are all it needs)."""
    lines = [f"name = {orjson.dumps(data['name']).decode()}"]
    for section, values in data.items():
        if not isinstance(values, dict):
            continue
        values = {**values, "file": recipients} if section == "recipients" else values
        lines.append(f"[{section}]")
        lines += [f"{key} = {_value(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_value(v)}" for k, v in value.items()) + " }"
    return orjson.dumps(value).decode()


def _batch_sizes(total: int, size: int = 5000) -> list[int]:
    return [min(size, total - start) for start in range(0, total, size)]


async def _run(settings: Settings, arq_redis: ArqRedis, data: dict[str, Any], path: Path) -> None:
    result = await api.submit_campaign(data, redis=arq_redis, recipients=path, settings=settings)
    async with await EngineContext.open(settings, arq_redis) as ctx:
        for batch in range(result.batches):
            outcome = await dispatch_batch(ctx, result.cid, batch)
            assert outcome.result == "finished", outcome


async def _only_report(arq_redis: ArqRedis) -> Any:
    [cid] = await arq_redis.zrange("kd:campaigns", 0, -1)
    return await build_report(arq_redis, cid.decode())


def _inputs(
    frame: dict[str, list[str]],
    verdicts: str,
    texts: dict[str, SmsText | None],
    *,
    rates: dict[str, float] | None = None,
    window: str | None = None,
) -> Inputs:
    data = {
        "name": "unit",
        "smart": {"template_id": "100000001", "sms_params": ["name"]},
        "sms_channel": {
            "channel_number": "1069",
            "sms_template_id": "t",
            "signature": "华为云",
            "app_name": "a",
        },
        "fallback": {"policy": "sms", "sms_template_id": "f"},
        "schedule": {"window": window} if window else {},
    }
    return Inputs(
        spec=CampaignSpec.model_validate(data),
        counts={},
        frame=pl.DataFrame(frame),
        verdicts=verdicts,
        batch_size=5000,
        sms_via="koomessage",
        rates=rates or LIFTED,  # type: ignore[arg-type]
        prices=PriceSettings(),
        texts=texts,
    )
