"""The HTML page as an operator hands it on: Chinese in a font that has it, colours that mean one thing each,
a send-rate chart at 10-second resolution with labelled axes, timeline keys that are times."""

from __future__ import annotations

import re
from pathlib import Path

from arq.connections import ArqRedis

from engine.reports import charts
from engine.reports.html import render_html
from engine.reports.summary import build_report
from engine.store import keys
from tests.failures import embedded, typical_outcome
from tests.failures import submit_small as submit

T0 = 1_765_000_000  # 2025-12-06 13:46:40 in Shanghai


def bar_colour(page: str, label: str) -> set[str]:
    """The fill of every bar labelled ``label``."""
    return set(re.findall(rf">{re.escape(label)}</text><rect [^>]*fill=\"(#[0-9a-f]{{6}})\"", page))


async def page_of(redis: ArqRedis, tmp: Path) -> str:
    cid = await submit(redis, tmp)
    await typical_outcome(redis, cid)  # smart and sms; UNDELIV and EXPIRED reports; three send failures
    # 120/s, then 500/s for ten seconds, then nothing for 20 s, then 100/s: a minute's mean would be ~120/s
    rates = [120] * 3 + [500] + [0, 0] + [100] * 6
    timeline = {f"{T0 + 10 * i}:smart": 10 * rate for i, rate in enumerate(rates) if rate}
    await redis.hset(keys.timeline(cid), mapping={**timeline, f"{T0 + 30}:sms": 200})
    return render_html(await build_report(redis, cid))


async def test_chinese_is_set_in_a_font_that_has_it(arq_redis: ArqRedis, tmp_path: Path) -> None:
    page = await page_of(arq_redis, tmp_path)
    for font in ('"PingFang SC"', '"Microsoft YaHei"', '"Noto Sans CJK SC"', '"WenQuanYi Micro Hei"'):
        assert page.count(font) == 2, font  # the page's text and the charts' text


async def test_colours_mean_one_thing_each(arq_redis: ArqRedis, tmp_path: Path) -> None:
    page = await page_of(arq_redis, tmp_path)

    undelivered, delivered, failed = (charts.step_colour(s) for s in ("undelivered", "delivered", "failed"))
    assert undelivered != delivered != failed != undelivered
    # an EXPIRED or UNDELIV status report is "undelivered" wherever it is drawn, never "delivered"'s green
    assert bar_colour(page, "undelivered: EXPIRED") == bar_colour(page, "undelivered") == {undelivered}
    assert bar_colour(page, "undelivered: UNDELIV") == {undelivered}
    # send-time failures: the funnel's "failed" colour in the funnels and in the failure-reasons chart
    assert bar_colour(page, "failed: template") == bar_colour(page, "template") == {failed}
    assert bar_colour(page, "failed") == {failed} and bar_colour(page, "delivered") == {delivered}
    # a channel has one colour: its funnel heading and its line in the rate chart
    for channel in ("smart", "sms"):
        colour = charts.channel_colour(channel)
        assert f'<h3 style="color:{colour}">{channel}</h3>' in page and f'stroke="{colour}"' in page


async def test_the_rate_chart_shows_10_second_rates_on_labelled_axes(
    arq_redis: ArqRedis, tmp_path: Path
) -> None:
    page = await page_of(arq_redis, tmp_path)
    chart = page[page.index("<h2>Send rate</h2>") : page.index("<h2>Failure reasons</h2>")]

    assert "smart (peak 500)" in chart and "sms (peak 20)" in chart  # the burst at its real rate
    assert "numbers per second (per 10 s)" in chart and "time (Asia/Shanghai (UTC+08:00))" in chart
    times = re.findall(r'text-anchor="middle">(\d\d:\d\d:\d\d)</text>', chart)
    assert len(times) == 6 and times[0] == "13:46:40" and times[-1] == "13:48:30"
    assert re.findall(r'text-anchor="end">([\d,]+)</text>', chart) == ["0", "125", "250", "375", "500"]
    [points] = re.findall(r'<polyline points="([^"]+)" fill="none" stroke="#2f6fdf"', chart)
    assert len(points.split()) == 12  # one point per 10-second bucket, the quiet ones at zero


async def test_timeline_keys_are_times_in_the_campaigns_zone(arq_redis: ArqRedis, tmp_path: Path) -> None:
    data = embedded(await page_of(arq_redis, tmp_path))

    assert list(data["timeline"])[:2] == ["2025-12-06T13:46:40+08:00", "2025-12-06T13:46:50+08:00"]
    assert data["timeline"]["2025-12-06T13:47:10+08:00"] == {"smart": 5000, "sms": 200}
    assert data["timeline_step"] == 10 and data["timing"]["timezone"] == "Asia/Shanghai"


async def test_a_long_campaign_is_averaged_in_groups_that_the_axis_names(
    arq_redis: ArqRedis, tmp_path: Path
) -> None:
    cid = await submit(arq_redis, tmp_path)
    buckets, start = 2_000, T0 + 10 * 3600  # 5.5 hours of 10-second buckets from 23:46:40 Shanghai time
    await arq_redis.hset(
        keys.timeline(cid),
        mapping={f"{start + 10 * i}:smart": 10_000 if i < 3 else 3_000 for i in range(buckets)},
    )

    chart = render_html(await build_report(arq_redis, cid))

    [points] = re.findall(r'<polyline points="([^"]+)"', chart)
    assert len(points.split()) == -(-buckets // 3)
    assert "numbers per second (per 30 s)" in chart and "smart (peak 1,000)" in chart
    assert 'text-anchor="middle">12-06 23:46</text>' in chart  # across midnight: the labels show the day
