"""``koodispatch demo``: a complete campaign, receipts included, against the built-in simulator on a private
Redis; nothing to set up. Its Redis goes with it, so the report can be kept as HTML or JSON on the way out."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import tempfile
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import typer

from engine.cli.app import app
from engine.cli.common import connection, console, fail, plain, run
from engine.cli.service import run_campaign, start_service, stop
from engine.runtime.redis_server import free_port

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from engine.reports.summary import Report
    from engine.simulator.testing import SimulatorThread

RECEIPTS_WAIT: Final = 15.0  # seconds the demo waits, once sent, for status reports still on their way


@app.command()
def demo(
    recipients: Annotated[int, typer.Option(min=10, help="rows in the generated recipient file")] = 100_000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes to start")] = 2,
    policy: Annotated[str, typer.Option(help="fallback policy: skip | sms | basic")] = "sms",
    html: Annotated[
        Path | None, typer.Option("--html", help="keep the report as a self-contained HTML page")
    ] = None,
    json_: Annotated[Path | None, typer.Option("--json", help="keep the report as JSON")] = None,
    campaigns: Annotated[
        int,
        typer.Option(
            min=1, max=8, help="campaigns at once; from 2: bulk, normal, urgent sharing the cap, live"
        ),
    ] = 1,
    web: Annotated[
        bool, typer.Option("--console/--no-console", help="also serve the web console on a loopback port")
    ] = True,
) -> None:
    """A complete campaign, status reports included, against the built-in simulator on a private Redis,
    watched in the terminal and (unless --no-console) in the web console; with --campaigns N, several of
    three classes sharing the cap on a live board."""
    from engine.ingest.demo_data import generate_recipients
    from engine.simulator.testing import SimulatorThread

    if policy not in ("skip", "sms", "basic"):
        fail(f"--policy: {policy!r} is not one of skip, sms, basic")
    for path in filter(None, (html, json_)):  # before a minute of sending, not after it
        if path.exists():
            fail(f"{path}: already exists (the demo never replaces a file)")
    token = secrets.token_urlsafe(24)
    with SimulatorThread() as sim:
        console.print(f"provider simulator at {sim.url}", highlight=False, markup=False)
        env = {
            "KOODISPATCH_PROVIDER__KOOMESSAGE_URL": sim.url,
            "KOODISPATCH_PROVIDER__SMSAPI_URL": sim.url,
            "KOODISPATCH_RECEIPTS_TOKEN": token,
        }
        os.environ.update(env)
        if campaigns > 1:
            from engine.cli.together import demo_campaigns

            along = partial(_web_console, env=env, workdir=None) if web else None
            raise typer.Exit(demo_campaigns(campaigns, recipients, workers, demo_spec(policy), env, along))
        workdir = Path(tempfile.mkdtemp(prefix="koodispatch-demo-"))
        data = workdir / "recipients.csv"
        truth = generate_recipients(data, recipients)
        console.print(
            f"generated {truth.rows:,} rows: {truth.imported:,} distinct valid, "
            f"{truth.duplicates:,} duplicates, {truth.invalid:,} invalid → {data}",
            highlight=False,
            markup=False,
        )
        spec = workdir / "campaign.toml"
        spec.write_text(demo_spec(policy), encoding="utf-8")

        async def settle(redis: aioredis.Redis, report: Report) -> Report:
            return await _keep(await _receipts_in(redis, report), html, json_)

        @contextlib.contextmanager
        def beside(url: str) -> Iterator[None]:
            web_console = _web_console(url, env, workdir) if web else contextlib.nullcontext()
            with _receipts_service(url, env, sim, token, workdir), web_console:
                yield

        code = run_campaign(spec, data, workers, env, around=beside, settle=settle)
    kept = " and ".join(str(p) for p in (html, json_) if p) or "nothing (--html FILE / --json FILE keep it)"
    console.print(
        f"the demo's Redis was private and is gone: `koodispatch report` cannot show this campaign again; "
        f"kept: {plain(kept)}",
        highlight=False,
        soft_wrap=True,  # a path broken across lines cannot be copied (in a pipe the width is 80)
    )
    raise typer.Exit(code)


@contextlib.contextmanager
def _receipts_service(
    url: str, env: dict[str, str], sim: SimulatorThread, token: str, workdir: Path
) -> Iterator[None]:
    """``koodispatch receipts`` on the demo's Redis, the simulator posting every status report to it."""
    from engine.cli.simulate import receipt_callbacks

    port = free_port()
    proc = start_service(["receipts", "--port", str(port)], url, env, workdir / "receipts.log")
    try:
        _wait_listening(port, proc.pid, "the receipts service")
        base = f"http://127.0.0.1:{port}"
        sim.update_config({"callbacks": receipt_callbacks(base, token)})
        console.print(f"receipts service at {base} (log {workdir / 'receipts.log'})", highlight=False)
        yield
    finally:
        stop([proc])


@contextlib.contextmanager
def _web_console(url: str, env: dict[str, str], workdir: Path | None) -> Iterator[None]:
    """``koodispatch serve`` on the demo's Redis and a free loopback port, with an admin token to log in
    with, both printed before any number is sent so a newcomer can watch the campaign in a browser."""

    async def token() -> str:
        from engine.service.tokens import TokenStore

        async with connection(url) as redis:
            return (await TokenStore(redis).create("demo", "admin"))[0]

    port = free_port()
    logs = workdir or Path(tempfile.mkdtemp(prefix="koodispatch-demo-"))
    proc = start_service(["serve", "--port", str(port)], url, env, logs / "console.log")
    try:
        login = run(token)
        _wait_listening(port, proc.pid, "the web console")
        where = f"http://127.0.0.1:{port}/console/"
        console.print(f"web console at {where} (log {logs / 'console.log'})", soft_wrap=True, markup=False)
        console.print(f"log in with the token {login}", soft_wrap=True, markup=False, highlight=False)
        yield
    finally:
        stop([proc])


def _wait_listening(port: int, pid: int, what: str, max_wait: float = 30.0) -> None:
    """Until something accepts on ``port``; ConfigError-free: a service that never listens fails the demo."""
    deadline = time.monotonic() + max_wait
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    fail(f"{what} (pid {pid}) did not start listening on port {port}")


async def _receipts_in(redis: aioredis.Redis, report: Report) -> Report:
    """The report once no status report is awaited any more (or after ``RECEIPTS_WAIT`` seconds)."""
    from engine.reports.summary import build_report

    deadline = time.monotonic() + RECEIPTS_WAIT
    while any(f.awaiting for f in report.funnel.values()) and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        report = await build_report(redis, report.campaign)
    return report


async def _keep(report: Report, html: Path | None, json_: Path | None) -> Report:
    """Write the report where asked, before the private Redis goes."""
    import orjson

    from engine.reports.html import write_html
    from engine.reports.output import private_file

    if html is not None:
        await asyncio.to_thread(write_html, report, html)
    if json_ is not None:
        with private_file(json_, force=False) as handle:
            handle.write(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2))
    return report


def demo_spec(policy: str) -> str:
    """The demo campaign: the simulator's default templates, per-recipient params, the chosen fallback."""
    return f"""\
name = "demo"

[smart]
template_id = "100000001"
sms_params = ["name"]
expiration_days = 3
dync_params = {{ name = "name" }}

[sms_channel]
channel_number = "10690000"
sms_template_id = "sms_tpl_1"
signature = "华为云"
app_name = "demo-app"

[fallback]
policy = "{policy}"
sms_template_id = "sms_tpl_2"
sms_params = ["name", "amount"]
basic_template_id = "200000001"
basic_params = ["name"]

[recipients]
mobile_column = "mobile"
"""
