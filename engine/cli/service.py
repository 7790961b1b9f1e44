"""Service commands: ``worker`` (one arq worker process), ``run`` (all-in-one) and ``demo``."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from engine.cli.app import app
from engine.cli.common import (
    RecipientsFile,
    SpecFile,
    console,
    fail,
    plain,
    queue,
    required_redis_url,
    run,
    secrets_of,
    settings,
    setup_logging,
)
from engine.types import CampaignState


@app.command()
def worker(
    burst: Annotated[bool, typer.Option(help="exit when the queue is empty")] = False,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING")] = "INFO",
    log_format: Annotated[str, typer.Option(help="text, or json: one object per line")] = "text",
    metrics_port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="serve Prometheus metrics on this port")
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(help="address the metrics port listens on (unauthenticated: keep it private)")
    ] = "127.0.0.1",
) -> None:
    """Run one worker process (start any number, on any machines, against one Redis)."""
    from engine.runtime import metrics
    from engine.runtime.gc_tuning import tune_for_service
    from workers.context import fatal_of
    from workers.settings import build_worker

    if log_format not in ("text", "json"):
        fail(f"--log-format: {log_format!r} is not one of text, json")
    cfg = settings()
    setup_logging(log_level, log_format, secrets_of(cfg))
    url = required_redis_url(cfg)
    if metrics_port is not None:
        try:
            metrics.serve(metrics_port, metrics_host)
        except OSError as exc:
            fail(f"--metrics-host {metrics_host} --metrics-port {metrics_port}: {exc.strerror or exc}")

    async def go() -> None:
        w = build_worker(cfg, url, burst=burst)  # built inside the loop it runs on
        tune_for_service()
        try:
            await w.async_run()
        except asyncio.CancelledError:
            pass  # SIGTERM/SIGINT: arq cancels its main task after finishing or aborting running jobs
        finally:
            await w.close()
        fatal = fatal_of(w.ctx)
        if fatal is not None:  # the worker stopped itself: exit non-zero with the reason
            raise fatal

    run(go, service=True)


def start_worker(
    url: str, env: Mapping[str, str], log_path: Path, args: Sequence[str] = ()
) -> subprocess.Popen[bytes]:
    """One ``koodispatch worker [args]`` process on ``url``, its output appended to ``log_path``."""
    environment = {**os.environ, **env, "REDIS_URL": url}
    with log_path.open("ab") as log:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "worker", *args], env=environment, stdout=log, stderr=log
        )


@contextmanager
def worker_processes(
    count: int, url: str, env: Mapping[str, str], logs: Path, args: Sequence[str] = ()
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start ``count`` worker processes on ``url``; stop them (SIGTERM, then SIGKILL) on exit."""
    procs = [start_worker(url, env, logs / f"worker-{i}.log", args) for i in range(count)]
    try:
        yield procs
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_campaign(spec: Path, recipients: Path | None, workers: int, env: Mapping[str, str]) -> int:
    """Submit, run with local workers until the campaign ends, print the report; 0 when completed."""
    from engine import api
    from engine.cli.view import render_report, watch
    from engine.runtime.redis_server import redis_url_or_private

    cfg = settings()
    with redis_url_or_private(cfg.redis_url, appendonly=True) as url:

        async def submit() -> str:
            async with queue(url) as redis:
                result = await api.submit_campaign(spec, recipients=recipients, settings=cfg, redis=redis)
            console.print(f"campaign [bold]{plain(result.cid)}[/]: {result.batches} batches", highlight=False)
            return result.cid

        cid = run(submit)
        logs = Path(tempfile.mkdtemp(prefix="koodispatch-logs-"))  # a refused campaign leaves none behind
        with worker_processes(workers, url, env, logs):

            async def follow() -> str:
                async with queue(url) as redis:
                    report = await watch(redis, cid, follow=True)
                    render_report(report)
                    return report.state

            state = run(follow)
    console.print(f"[dim]worker logs: {plain(logs)}[/]", highlight=False)
    return 0 if state == CampaignState.COMPLETED.value else 1


@app.command("run")
def run_command(
    spec: SpecFile,
    recipients: RecipientsFile = None,
    workers: Annotated[int, typer.Option(min=1, help="worker processes to start")] = 2,
) -> None:
    """All-in-one: submit, run N local workers (REDIS_URL or a private Redis), show progress and report."""
    raise typer.Exit(run_campaign(spec, recipients, workers, {}))


@app.command()
def demo(
    recipients: Annotated[int, typer.Option(min=10, help="rows in the generated recipient file")] = 100_000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes to start")] = 2,
    policy: Annotated[str, typer.Option(help="fallback policy: skip | sms | basic")] = "sms",
    campaigns: Annotated[
        int,
        typer.Option(
            min=1, max=8, help="campaigns at once; from 2: bulk, normal, urgent sharing the cap, live"
        ),
    ] = 1,
) -> None:
    """A complete campaign against the built-in simulator on a private Redis: nothing to set up.

    Example: koodispatch demo --recipients 20000 --campaigns 3
    """

    from engine.ingest.demo_data import generate_recipients
    from engine.simulator.testing import SimulatorThread

    if policy not in ("skip", "sms", "basic"):
        fail(f"--policy: {policy!r} is not one of skip, sms, basic")
    with SimulatorThread() as sim:
        console.print(f"provider simulator at {sim.url}", highlight=False, markup=False)
        env = {"KOODISPATCH_PROVIDER__KOOMESSAGE_URL": sim.url, "KOODISPATCH_PROVIDER__SMSAPI_URL": sim.url}
        os.environ.update(env)
        if campaigns > 1:
            from engine.cli.together import demo_campaigns

            raise typer.Exit(demo_campaigns(campaigns, recipients, workers, demo_spec(policy), env))
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
        code = run_campaign(spec, data, workers, env)
    raise typer.Exit(code)


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
