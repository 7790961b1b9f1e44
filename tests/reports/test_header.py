"""What ran when and what it cost: the report's header on the terminal (rich's recording console) and in
the HTML page: name, parent, times in the campaign's zone, duration, cost, opt-outs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from arq.connections import ArqRedis
from rich.console import Console

from engine import api
from engine.cli import view
from engine.reports.html import render_html
from engine.reports.summary import Report, build_report
from engine.runtime.settings import PriceSettings, Settings, load_settings
from engine.simulator import RunningSimulator
from engine.state import campaigns, trial
from engine.store import keys
from tests.failures import NUMBERS, SPEC, accept, fail_at_send, typical_outcome, write_recipients
from tests.failures import submit_small as submit

T0 = 1_765_000_000  # 2025-12-06 13:46:40 in Shanghai, 05:46:40 UTC
PRICES = PriceSettings(smart=0.1, sms_segment=0.04, basic=0.2)


def screen(r: Report, monkeypatch: pytest.MonkeyPatch) -> str:
    """What ``koodispatch report`` prints, through rich's recording console."""
    recording = Console(record=True, width=80, force_terminal=False)
    monkeypatch.setattr(view, "console", recording)
    view.render_report(r)
    return recording.export_text()


async def submit_with_opt_outs(redis: ArqRedis, tmp: Path, **spec: Any) -> str:
    """SPEC for NUMBERS with the first two on the opt-out list (and ``spec`` on top)."""
    (tmp / "optout.txt").write_text(f"{NUMBERS[0]}\n{NUMBERS[1]}\n", encoding="utf-8")
    recipients = {**SPEC["recipients"], "suppression_file": str(tmp / "optout.txt")}
    result = await api.submit_campaign(
        {**SPEC, **spec, "recipients": recipients},
        redis=redis,
        recipients=write_recipients(tmp / "r.csv"),
        settings=load_settings(dispatch={"batch_size": 5}),
        preflight=False,
    )
    return result.cid


async def ended(redis: ArqRedis, cid: str, at: int) -> None:
    """Complete the campaign at ``at`` as ``finish_batch.lua`` does."""
    await redis.hset(keys.campaign(cid), mapping={"state": "completed", "updated_at": at, "finished_at": at})


async def test_the_terminal_report_says_what_ran_when_in_its_zone_and_at_what_cost(
    arq_redis: ArqRedis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = await submit_with_opt_outs(arq_redis, tmp_path)
    await accept(arq_redis, cid, "smart", 6)
    await accept(arq_redis, cid, "sms", 2)
    await fail_at_send(arq_redis, cid, NUMBERS[5], "smart", "frequency_cap", "")
    await arq_redis.hset(keys.counters(cid), mapping={"first_sent_at": T0, "last_sent_at": T0 + 125})
    await ended(arq_redis, cid, T0 + 130)

    text = screen(await build_report(arq_redis, cid, PRICES), monkeypatch)

    for line in (
        f"campaign    report-test ({cid})",
        "times in    Asia/Shanghai (UTC+08:00)",
        "first sent  2025-12-06 13:46:40",
        "last sent   2025-12-06 13:48:45",
        "ended       2025-12-06 13:48:50",
        "duration    2m10s (took, from the first number sent)",
        "opted out   2 recipients on the opt-out list at submission, not sent to",
        # offline submission: no SMS texts, so one segment per SMS and the report says so
        "cost        0.92 CNY: smart 0.60, SMS 0.32 (8 segments)",
        "            SMS counted as 1 segment each: the texts were not read at submission",
    ):
        assert line in text, line
    # the failure reasons are listed once, under "failed" (no separate contact-frequency row)
    assert text.count("frequency_cap") == 1 and "contact-frequency" not in text
    assert "05:46:40" not in text  # no UTC time where the campaign's zone is Shanghai


async def test_opt_outs_since_submission_are_counted_for_the_report_not_for_status(
    arq_redis: ArqRedis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = await submit_with_opt_outs(arq_redis, tmp_path)  # NUMBERS[0] and [1] left out at submission
    assert (await build_report(arq_redis, cid, opt_outs=True)).opted_out_since == 0
    # two recipients (batches 0 and 2) reply 退订 later; a number of no recipient too
    await arq_redis.sadd(keys.SUPPRESSION, NUMBERS[3], NUMBERS[11], "13999999999")

    report = await build_report(arq_redis, cid, opt_outs=True)

    assert report.opted_out_since == 2 and report.suppressed == 2
    assert "            2 more opted out since (replied 退订)" in screen(report, monkeypatch)
    assert (await build_report(arq_redis, cid)).opted_out_since is None


async def test_a_running_campaign_without_prices_says_so(
    arq_redis: ArqRedis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = await submit(arq_redis, tmp_path)

    text = screen(await build_report(arq_redis, cid, PriceSettings()), monkeypatch)

    assert "first sent  —" in text and "ended       not yet (running)" in text
    assert "(running for, from submission)" in text and "cost        unknown: no [prices] set" in text


async def test_times_follow_the_spec_time_zone(
    arq_redis: ArqRedis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = await submit_with_opt_outs(arq_redis, tmp_path, schedule={"timezone": "Europe/Berlin"})
    await arq_redis.hset(keys.counters(cid), mapping={"first_sent_at": T0, "last_sent_at": T0})

    r = await build_report(arq_redis, cid)
    text = screen(r, monkeypatch)

    assert "times in    Europe/Berlin (UTC+01:00)" in text and "first sent  2025-12-06 06:46:40" in text
    page = render_html(r)
    assert "Europe/Berlin (UTC+01:00)" in page and "2025-12-06 06:46:40" in page


@pytest.fixture
def settings(simulator: RunningSimulator) -> Settings:
    return load_settings(
        provider={"koomessage_url": simulator.url, "smsapi_url": simulator.url}, dispatch={"batch_size": 5}
    )


async def test_cost_prices_the_sent_messages_by_the_segments_of_their_texts(
    arq_redis: ArqRedis, tmp_path: Path, settings: Settings
) -> None:
    # the fallback's note makes two of four plain SMS long (2 segments); the carrier SMS are all short
    notes = ["短", "短", "长" * 50, "长" * 50]
    rows = [f"{n},张三,{note},20" for n, note in zip(NUMBERS[:4], notes, strict=True)]
    (tmp_path / "r.csv").write_text("mobile,name,note,amount\n" + "\n".join(rows) + "\n", encoding="utf-8")
    spec = {
        **SPEC,
        "smart": {"template_id": "100000001", "sms_params": ["name"], "dync_params": {"name": "name"}},
        "fallback": {"policy": "sms", "sms_template_id": "sms_tpl_2", "sms_params": ["note", "amount"]},
    }
    cid = (
        await api.submit_campaign(spec, redis=arq_redis, recipients=tmp_path / "r.csv", settings=settings)
    ).cid
    counts = (await campaigns.load(arq_redis, cid)).counts
    assert (counts["segments:smart"], counts["segments:sms"]) == (4, 6)
    await accept(arq_redis, cid, "smart", 2)
    await accept(arq_redis, cid, "sms", 2)

    cost = (await build_report(arq_redis, cid, PRICES)).cost

    assert cost is not None and cost.segments_known and cost.segments == 2 * 1 + 2 * 6 // 4
    assert (round(cost.smart, 6), round(cost.sms, 6), round(cost.total, 6)) == (0.2, 0.2, 0.4)


async def test_a_resend_and_a_trial_link_back_to_their_parent(arq_redis: ArqRedis, tmp_path: Path) -> None:
    cid = await submit_with_opt_outs(arq_redis, tmp_path, schedule={"trial_numbers": [NUMBERS[2]]})
    await typical_outcome(arq_redis, cid)
    resent = await api.resend_failed(
        cid, redis=arq_redis, settings=load_settings(dispatch={"batch_size": 5}), preflight=False
    )

    for child, words in ((resent.cid, "Resend of failed numbers"), (trial.trial_id(cid), "Trial send")):
        r = await build_report(arq_redis, child)
        assert r.parent == cid
        assert f'{words} of campaign <a href="{cid}.html">{cid}</a>' in render_html(r)
    assert (await build_report(arq_redis, cid)).parent == ""
