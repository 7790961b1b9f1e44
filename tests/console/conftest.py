"""The console in a real browser: Debian's Chromium driven by Playwright (which cannot download its own
browsers here), against the served API of ``tests/served.py``.

Without Chromium the tests fail on CI (``CI=1``, where ``.ci/run`` installs it) and are skipped elsewhere.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Final

import pytest
from playwright.async_api import Browser, BrowserContext, Dialog, Page, async_playwright

from tests.served import Api, api, settings

__all__ = ["Api", "api", "browser", "confirm_all", "login", "settings"]

CHROMIUM: Final = Path("/usr/bin/chromium")
TIMEOUT_MS: Final = 30_000  # a step that waits (a page, an event) fails after this long


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium chromium-driver (.ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    async with async_playwright() as playwright:
        args = ["--no-sandbox", "--disable-dev-shm-usage"]  # CI runs as root, in a small /dev/shm
        found = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
        yield found
        await found.close()


Login = Callable[[str], Awaitable[Page]]


def confirm_all(page: Page) -> list[str]:
    """Answer yes to every confirmation the page asks; the list fills with their questions, in order."""
    asked: list[str] = []

    async def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        await dialog.accept()

    page.on("dialog", accept)
    return asked


@pytest.fixture
async def login(browser: Browser, api: Api) -> AsyncIterator[Login]:
    """Log a fresh browser context in with the token of a role, through the login page."""
    contexts: list[BrowserContext] = []

    async def open_as(role: str) -> Page:
        context = await browser.new_context(base_url=api.url, accept_downloads=True)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = await context.new_page()
        await page.goto("/console/")
        await page.wait_for_url(re.compile(r"/console/login\?next="))
        await page.fill("input[name=token]", api.tokens[role])
        await page.click("#login button[type=submit]")
        await page.wait_for_url(f"{api.url}/console/")
        return page

    yield open_as
    for context in contexts:
        await context.close()
