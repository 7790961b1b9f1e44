"""The console's pages without a campaign running: login and logout, the language switch, the suppression
list and the account settings, each page under its CSP with no error in the browser."""

from __future__ import annotations

import re

from playwright.async_api import ConsoleMessage, expect

from tests.console.conftest import Login, confirm_all
from tests.served import Api


async def test_login_lists_campaigns_switches_language_and_logs_out(login: Login, api: Api) -> None:
    page = await login("viewer")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if _error(m) else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    await expect(page.locator("h1")).to_have_text("发送任务")
    await expect(page.locator("#empty")).to_be_visible()
    csp = (await page.request.get("/console/")).headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    await page.click("a[lang=en]")
    await expect(page.locator("h1")).to_have_text("Campaigns")
    await page.reload()  # the choice is remembered
    await expect(page.locator(".who")).to_have_text("test viewer · viewer")
    await page.goto("/console/suppression")
    await expect(page.locator("h1")).to_have_text("Not allowed")  # the viewer role is not enough
    assert (await page.goto("/console/campaigns/nowhere")).status == 404  # type: ignore[union-attr]
    await expect(page.locator("main")).to_contain_text("No campaign with the id nowhere")
    await page.goto("/console/")
    await page.click("#logout")
    await page.wait_for_url(re.compile(r"/console/login$"))
    assert (await page.request.get("/api/v1/campaigns")).status == 401
    assert errors == []


def _error(message: ConsoleMessage) -> bool:
    """A script error or a CSP refusal (a refused status, as the 403 page's, is not the page's fault)."""
    return message.type == "error" and not message.text.startswith("Failed to load resource")


async def test_an_admin_keeps_the_suppression_list_and_the_rates(login: Login, api: Api) -> None:
    page = await login("admin")
    dialogs = confirm_all(page)
    await page.goto("/console/suppression?lang=en")
    await expect(page.locator("#sup-empty")).to_be_visible()
    await page.fill("#sup-change textarea", "13800000001\n13800000002")
    await page.click("#sup-change button[data-op=add]")
    await expect(page.locator("#notice")).to_have_text("2 numbers changed.")
    await expect(page.locator("#sup-list li")).to_have_count(2)
    await page.fill("#sup-search input", "13800000002")
    await page.click("#sup-search button")
    await expect(page.locator("#sup-found")).to_have_text("13800000002 is suppressed")
    optout = {"name": "optout.txt", "mimeType": "text/plain", "buffer": b"13800000003\n13800000002\n"}
    await page.set_input_files("#sup-import input[type=file]", files=[optout])
    await page.click("#sup-import button")
    await expect(page.locator("#notice")).to_have_text("1 numbers changed.")  # one was on the list already
    async with page.expect_download() as download:
        await page.click("text=Export the whole list")
    exported = await (await download.value).path()
    assert sorted(exported.read_text().split()) == ["13800000001", "13800000002", "13800000003"]
    await page.goto("/console/settings")
    row = page.locator("#rates tr[data-channel=sms]")
    await row.locator("input").fill("321")
    await row.locator("button").click()
    await expect(page.locator("#rates tr[data-channel=sms] td").first).to_have_text("321")
    assert dialogs == ["Add 2 numbers to the suppression list?", "Import the numbers of optout.txt?",
                       "Set the SMS budget to 321 per second?"]  # fmt: skip
    _, rates, _ = await api.call("GET", "/rates")
    assert rates["sms"]["rate"] == 321
