"""How heavy is each console page, and how soon does it show, in a real browser on loopback?

    python benchmarks/console.py [--recipients 30000] [--repeat 3] [--screenshot docs/console-campaign.png]

One private Redis, the simulator in its own process (smart and SMS capped at RATE numbers/s, so the campaign
is still running while the pages are measured), one real worker process, one real ``koodispatch serve``
process. Headless Chromium (Debian's, driven by Playwright), a fresh browser context per load (cold cache):

  weight        bytes over the wire (headers and bodies, Playwright's ``request.sizes()``) of the page's
                document, scripts, styles, images and fonts. Goal ≤ 300 KB. The API's JSON the page then
                reads is shown beside it (it grows with the data, not with the page); the event stream,
                which never ends, is not counted.
  first render  navigation start → first contentful paint, and → the load event (Navigation Timing).
                Goal ≤ 1 s.

``--screenshot PATH`` also saves the campaign page, mid-campaign, as the README shows it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import urllib.request
from pathlib import Path
from typing import Any, Final

from _common import bench_spec, console, dataset, parser, wait_until
from _report import Machine, Result, goal, publish
from _sim import engine_env, simulator_process, submit
from playwright.sync_api import Browser, Page, Request, sync_playwright
from service import serve_process

from engine.cli.service import worker_processes
from engine.runtime.redis_server import RedisServer
from engine.service.tokens import TokenStore
from engine.store.connection import open_queue

CHROMIUM: Final = "/usr/bin/chromium"
RATE: Final = 400  # numbers/s per channel at the simulator: the campaign runs through the measurement
WEIGHT_GOAL: Final = 300 * 1024
RENDER_GOAL_S: Final = 1.0
PAGE_KINDS: Final = frozenset({"document", "script", "stylesheet", "image", "font"})
COLUMNS: Final = ["page", "weight", "≤ 300 KB", "API JSON read", "first contentful paint", "load", "≤ 1 s"]
TIMING: Final = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
  return [fcp ? fcp.startTime : null, nav.loadEventEnd];
}"""


async def _prepare(url: str, data: Path) -> tuple[str, str]:
    """An admin token and a submitted campaign on the Redis at ``url``."""
    queue = await open_queue(url)
    try:
        token = (await TokenStore(queue).create("benchmark", "admin"))[0]
        cid = (await submit(queue, bench_spec(name="spring-sale"), data)).cid
    finally:
        await queue.aclose()
    return token, cid


def measure(browser: Browser, base: str, path: str, token: str | None) -> dict[str, float]:
    """One cold load of ``path``: bytes of the page and of its API reads, FCP and load in seconds."""
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
    try:
        if token is not None:  # the session cookie, as the login page sets it
            assert context.request.post("/api/v1/session", data={"token": token}).ok
        page = context.new_page()
        finished: list[Request] = []
        page.on("requestfinished", lambda request: finished.append(request))
        page.goto(path, wait_until="load")
        page.wait_for_timeout(300)  # the scripts' first API reads
        fcp, load = page.evaluate(TIMING)
        weight = api = 0
        for request in finished:
            sizes = request.sizes()
            sent = sizes["responseHeadersSize"] + sizes["responseBodySize"]
            if request.resource_type in PAGE_KINDS:
                weight += sent
            elif request.url.startswith(base + "/api/"):
                api += sent
        return {"weight": weight, "api": api, "fcp": (fcp or load) / 1000, "load": load / 1000}
    finally:
        context.close()


def screenshot(browser: Browser, base: str, cid: str, token: str, out: Path) -> None:
    """The campaign page once its rate chart has some seconds of history."""
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 1000})
    try:
        assert context.request.post("/api/v1/session", data={"token": token}).ok
        bearer = {"Authorization": f"Bearer {token}"}  # a change, so that the audit trail shows one
        assert context.request.put(f"/api/v1/campaigns/{cid}/rates", data={"rates": {"smart": RATE}},
                                   headers=bearer).ok  # fmt: skip
        page: Page = context.new_page()
        page.goto(f"/console/campaigns/{cid}")
        page.wait_for_function("() => +document.getElementById('chart').dataset.points >= 24", timeout=60_000)
        page.screenshot(path=str(out), full_page=True)
    finally:
        context.close()


def main(args: argparse.Namespace) -> None:
    machine = Machine.current()
    data = dataset(args.cache_dir, args.recipients, "csv")
    logs = args.cache_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    rates = {"smart": RATE, "sms": RATE, "basic": RATE}
    server = RedisServer()
    server.start()
    try:
        with simulator_process(logs, rates, "20-60") as sim:
            env = engine_env(sim.url, rates)  # type: ignore[arg-type]
            token, cid = asyncio.run(_prepare(server.url, data.path))  # before Playwright's own loop
            with (
                worker_processes(1, server.url, env, logs) as procs,
                serve_process(server.url, env, logs / "serve.log") as base,
                sync_playwright() as playwright,
            ):
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                wait_until(lambda: _sending(base, cid, token), procs, "the campaign to send")
                pages = {"login": ("/console/login", None), "campaigns": ("/console/", token),
                         "campaign (live)": (f"/console/campaigns/{cid}", token),
                         "new": ("/console/new", token), "suppression": ("/console/suppression", token),
                         "settings": ("/console/settings", token)}  # fmt: skip
                found: dict[str, list[dict[str, float]]] = {name: [] for name in pages}
                for _ in range(args.repeat):  # interleaved: a slow moment touches every page alike
                    for name, (path, login) in pages.items():
                        found[name].append(measure(browser, base, path, login))
                if args.screenshot:
                    screenshot(browser, base, cid, token, args.screenshot)
                    console.print(f"saved {args.screenshot}", highlight=False)
                still = _sending(base, cid, token)
                browser.close()
    finally:
        server.close()
    rows = []
    for name, samples in found.items():
        med = {key: statistics.median(s[key] for s in samples) for key in samples[0]}
        rows.append([name, _kb(med["weight"]), goal(med["weight"], WEIGHT_GOAL), _kb(med["api"]),
                     f"{med['fcp'] * 1000:.0f} ms", f"{med['load'] * 1000:.0f} ms",
                     goal(max(med["fcp"], med["load"]), RENDER_GOAL_S)])  # fmt: skip
    notes = [
        f"medians of {args.repeat} cold loads per page (a fresh browser context each), interleaved; "
        f"headless Chromium {_version()}, viewport 1280×900, loopback",
        f"a campaign of {args.recipients:,} rows sending at the simulator's {RATE}/s per channel "
        f"meanwhile ({'still running at the end' if still else 'it ended before the last load'}); "
        "1 worker, 1 serve process",
        "weight: document, scripts, styles, images, fonts (headers + bodies); no font is downloaded",
    ]
    publish(Result("Console page weight and first render", COLUMNS, rows, notes), machine,
            not args.no_record)  # fmt: skip


def _sending(base: str, cid: str, token: str) -> bool:
    """Whether the campaign has sent some numbers and not all (its status, as the page reads it)."""
    asked = urllib.request.Request(f"{base}/api/v1/campaigns/{cid}/status",
                                   headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    with urllib.request.urlopen(asked, timeout=5) as answer:
        row: dict[str, Any] = json.loads(answer.read())["campaign"]
    return bool(0 < row["sent"] < row["accepted"])


def _kb(nbytes: float) -> str:
    return f"{nbytes / 1024:.1f} KB"


def _version() -> str:
    import subprocess

    out = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, check=False).stdout
    return out.split()[1] if out.split()[1:] else "?"


def cli() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--recipients", type=int, default=30_000, help="rows in the running campaign's file")
    p.add_argument("--screenshot", type=Path, help="save the live campaign page here (PNG)")
    started = time.monotonic()
    main(p.parse_args())
    console.print(f"took {time.monotonic() - started:.0f} s", highlight=False)


if __name__ == "__main__":
    cli()
