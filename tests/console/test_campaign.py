"""A campaign run from the console in a real browser: upload, column mapping, forecast, submit, live
progress and rate, pause and resume, report and failed-number export; and who may change what.

Real ``serve`` (in the test's loop), real Redis, real worker processes, the simulator on loopback.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from arq.connections import ArqRedis
from playwright.async_api import Page, expect

from engine import api as engine_api
from engine.runtime.settings import Settings
from engine.simulator.testing import SimulatorThread
from tests.console.conftest import Login, confirm_all
from tests.processes import engine_env, workers
from tests.served import Api, submit
from tests.specs import make_spec, write

ROWS: Final = 4000  # at RATE a second per channel: several seconds of visibly live progress
RATE: Final = 250
DONE: Final = "#stages [data-stage='stage.done'] progress"
MORE_DONE: Final = "([done, before]) => +document.querySelector(done)?.value > before"


async def _done(page: Page) -> int:
    return int(await page.locator(DONE).get_attribute("value") or 0)


async def _fill_campaign(page: Page, recipients: Path, name: str = "春季促销") -> None:
    """The new-campaign form as an operator fills it for the simulator's demo templates."""
    await page.fill("[name=name]", name)
    await page.set_input_files("[name=recipients]", recipients)
    await expect(page.locator("#columns-hint")).to_contain_text("mobile, name, amount")
    await expect(page.locator("[name=mobile_column]")).to_have_value("mobile")
    await expect(page.locator("select[name='param:name']")).to_have_value("name")  # mapped by its name
    await page.fill("[name=sms_params]", "name")
    await expect(page.locator("[name=signature]")).to_have_value("华为云")  # the port's signature
    await page.fill("[name=sms_template_id]", "sms_tpl_1")
    await page.fill("[name=app_name]", "demo-app")
    await page.fill("[name=fallback_sms_template_id]", "sms_tpl_2")
    await page.fill("[name=fallback_sms_params]", "name, amount")
    await page.fill("[name=advanced]", f'{{"budget": {{"max_rate": {{"smart": {RATE}, "sms": {RATE}}}}}}}')


async def test_a_campaign_from_upload_to_report_live_in_the_browser(
    login: Login, api: Api, sim: SimulatorThread, redis_url: str, tmp_path: Path
) -> None:
    recipients = _recipients(tmp_path / "spring.csv", ROWS)
    page = await login("operator")
    confirm_all(page)
    await page.click("nav >> text=新建任务")
    await _fill_campaign(page, recipients)
    await page.click("#forecast-btn")
    counts = page.locator("#fc-counts")
    await expect(counts.locator("tr", has_text="导入号码总数(已去重)").locator("td")).to_have_text("4,000")
    await expect(page.locator("#fc-plan")).to_contain_text("预计耗时")
    with workers(2, engine_env(redis_url, sim.url), tmp_path):
        await page.click("#submit-btn")
        await page.wait_for_url(re.compile(r"/console/campaigns/"))
        await expect(page.locator("#c-name")).to_have_text("春季促销")
        await page.wait_for_function(MORE_DONE, arg=[DONE, 0])
        await page.wait_for_function(MORE_DONE, arg=[DONE, await _done(page)])  # it moves, live
        await page.wait_for_function("() => parseFloat(document.getElementById('rate-now').textContent) > 0")
        await page.click("button[data-action=pause]")
        await expect(page.locator("#c-state")).to_have_class(re.compile("paused"))
        assert await _done(page) < ROWS, "the campaign ended before the pause: lower RATE"
        await page.click("button[data-action=resume]")
        await expect(page.locator("#c-state")).to_have_class(re.compile("completed"), timeout=90_000)
    assert int(await page.locator("#chart").get_attribute("data-points") or 0) >= 2
    accepted = page.locator("#counts tr", has_text="提交发送信息号码数").locator("td")
    await expect(accepted).to_have_text("4,000")
    await expect(page.locator("#audit tbody")).to_contain_text("恢复")
    await expect(page.locator("#audit tbody")).to_contain_text("暂停")
    async with page.context.expect_page() as opened:
        await page.click("#dl-html")
    report = await opened.value
    await expect(report.locator("body")).to_contain_text("春季促销")
    async with page.expect_download() as download:
        await page.click("#dl-csv")
    saved = await download.value
    assert saved.suggested_filename.endswith("-failed.csv")
    assert (await saved.path()).read_text(encoding="utf-8").startswith("mobile")


def _recipients(path: Path, count: int) -> Path:
    mobiles = [str(13800000000 + k) for k in range(count)]
    return write(path, {"mobile": mobiles, "name": ["李雷"] * count, "amount": ["88"] * count})


async def test_a_trial_send_waits_for_its_confirmation_in_the_console(
    login: Login, api: Api, sim: SimulatorThread, redis_url: str, tmp_path: Path
) -> None:
    page = await login("operator")
    dialogs = confirm_all(page)
    await page.goto("/console/new")
    await _fill_campaign(page, _recipients(tmp_path / "trial.csv", 30), "试发任务")
    await page.fill("[name=trial_numbers]", "13900000001, 13900000002")
    with workers(1, engine_env(redis_url, sim.url), tmp_path):
        await page.click("#submit-btn")
        await page.wait_for_url(re.compile(r"/console/campaigns/"))
        confirm = page.locator("button[data-action=confirm-trial]")
        await expect(confirm).to_be_enabled(timeout=60_000)  # once the trial numbers got theirs
        await expect(page.locator("#c-state")).to_contain_text("trial sent")
        await confirm.click()
        await expect(page.locator("#c-state")).to_have_class(re.compile("completed"), timeout=60_000)
    assert "试发" in dialogs[0] and dialogs[1] == "确定对任务「试发任务」执行「确认试发并发送全部」？"
    await expect(page.locator("#counts tr", has_text="提交发送信息号码数").locator("td")).to_have_text("30")


async def test_a_scheduled_campaign_shows_its_zone_and_can_be_cancelled(
    login: Login, api: Api, tmp_path: Path
) -> None:
    page = await login("operator")
    confirm_all(page)
    await page.goto("/console/new?lang=en")
    await _fill_campaign(page, _recipients(tmp_path / "later.csv", 10), "later")
    await page.fill("[name=start_at]", "2099-01-01T08:00")
    await page.fill("[name=timezone]", "Europe/Berlin")
    await page.click("#submit-btn")
    await page.wait_for_url(re.compile(r"/console/campaigns/"))
    await expect(page.locator("#c-state")).to_have_class(re.compile("scheduled"))
    await expect(page.locator("#c-zone")).to_have_text("Europe/Berlin")
    cid = page.url.rsplit("/", 1)[1]
    _, detail, _ = await api.call("GET", f"/campaigns/{cid}")
    assert detail["spec"]["schedule"]["start_at"] == "2099-01-01T08:00:00+01:00"
    _, [created], _ = await api.call("GET", f"/campaigns/{cid}/audit")
    at = datetime.fromtimestamp(created["at"], ZoneInfo("Europe/Berlin"))  # the campaign's zone, not ours
    await expect(page.locator("#audit tbody td").first).to_have_text(at.strftime("%m/%d/%Y, %H:%M:%S"))
    await page.click("button[data-action=cancel]")
    await expect(page.locator("#c-state")).to_have_class(re.compile("cancelled"))
    await expect(page.locator("button[data-action=pause]")).to_be_disabled()


async def test_a_viewer_cannot_pause_and_a_change_without_csrf_is_refused(
    login: Login, api: Api, arq_redis: ArqRedis, settings: Settings, tmp_path: Path
) -> None:
    await submit(arq_redis, settings, tmp_path, "guarded", 5)
    # a pause sent by the page's own script, with or without the session's CSRF token
    pause = """csrf => fetch('/api/v1/campaigns/guarded/pause', {method: 'POST',
        headers: csrf ? {'X-CSRF-Token': document.body.dataset.csrf} : {}}
    ).then(r => r.json().then(p => [r.status, p.detail]))"""

    viewer = await login("viewer")
    await viewer.goto("/console/campaigns/guarded")
    await expect(viewer.locator("#read-only")).to_be_visible()
    await expect(viewer.locator("button[data-action=pause]")).to_have_count(0)
    status, detail = await viewer.evaluate(pause, True)
    assert (status, detail) == (403, "this needs the operator role; the token has viewer")

    operator = await login("operator")
    await operator.goto("/console/campaigns/guarded")
    await expect(operator.locator("button[data-action=pause]")).to_be_enabled()
    status, detail = await operator.evaluate(pause, False)
    assert status == 403 and "X-CSRF-Token" in detail
    _, now, _ = await api.call("GET", "/campaigns/guarded/status")
    assert now["campaign"]["state"] == "running"  # neither request changed anything


async def test_the_list_shows_new_campaigns_and_state_changes_live_and_filters(
    login: Login, arq_redis: ArqRedis, settings: Settings, tmp_path: Path
) -> None:
    await submit(arq_redis, settings, tmp_path, "first", 3)
    page = await login("viewer")
    await expect(page.locator("tr[data-cid=first]")).to_have_attribute("data-state", "running")
    await page.evaluate("() => { window.sameDocument = true; }")  # gone if the page were loaded again
    await submit(arq_redis, settings, tmp_path, "second", 3)
    await expect(page.locator("#campaigns tbody tr").first).to_have_attribute("data-cid", "second")
    await engine_api.pause("first", redis=arq_redis)
    await expect(page.locator("tr[data-cid=first]")).to_have_attribute("data-state", "paused")
    assert await page.evaluate("() => window.sameDocument") is True
    await page.select_option("select[name=state]", "paused")
    await page.click("#filters button[type=submit]")
    await expect(page.locator("#campaigns tbody tr")).to_have_count(1)
    await expect(page.locator("#campaigns tbody tr")).to_have_attribute("data-cid", "first")
    await page.click("#filters button[type=reset]")  # by template, as the KooMessage task list filters
    await page.fill("[name=template_id]", "999999999")
    await page.click("#filters button[type=submit]")
    await expect(page.locator("#campaigns tbody tr")).to_have_count(0)
    await page.fill("[name=template_id]", make_spec().smart.template_id)
    await page.click("#filters button[type=submit]")
    await expect(page.locator("#campaigns tbody tr")).to_have_count(2)
