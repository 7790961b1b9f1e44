"""Service commands: ``worker`` (one arq worker process) and ``run`` (all-in-one; ``demo``: ``demo.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from engine.reports.summary import Report


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
    return start_service(["worker", *args], url, env, log_path)


def start_service(
    command: Sequence[str], url: str, env: Mapping[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    """One ``koodispatch COMMAND`` process (worker, receipts) on ``url``, output appended to ``log_path``."""
    environment = {**os.environ, **env, "REDIS_URL": url}
    with log_path.open("ab") as log:  # the child keeps its own descriptor
        return subprocess.Popen(  # own session, no terminal: Ctrl-C reaches `run`, which stops them cleanly
            [sys.executable, "-m", "engine.cli", *command],
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )


def stop(procs: Sequence[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every process, then SIGKILL one that has not ended within 15 s."""
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def worker_processes(
    count: int, url: str, env: Mapping[str, str], logs: Path, args: Sequence[str] = ()
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start ``count`` worker processes on ``url``; stop them (SIGTERM, then SIGKILL) on exit."""
    procs = [start_worker(url, env, logs / f"worker-{i}.log", args) for i in range(count)]
    try:
        yield procs
    finally:
        stop(procs)


# Settling a finished campaign (the demo waits for its receipts, keeps its report) before the report is shown
Settle = Callable[["aioredis.Redis", "Report"], Awaitable["Report"]]


def run_campaign(
    spec: Path,
    recipients: Path | None,
    workers: int,
    env: Mapping[str, str],
    confirm_trial: bool = False,
    *,
    around: Callable[[str], AbstractContextManager[object]] | None = None,
    settle: Settle | None = None,
) -> int:
    """Submit, run with local workers until the campaign ends, print the report; 0 when completed.

    A trial spec sends the list once confirmed (``confirm_trial`` or at the prompt): ``trial_run.py``.
    ``around(url)`` runs beside the workers on the campaign's Redis (the demo's receipts service);
    ``settle`` sees the campaign once it ended, before its report is printed.
    """
    from engine import api
    from engine.cli.trial_run import check_trial, through_trial
    from engine.cli.view import render_report, watch
    from engine.runtime.redis_server import redis_url_or_private

    cfg = settings()
    shared = bool(cfg.redis_address)
    with redis_url_or_private(cfg.redis_address, appendonly=True) as url:

        async def submit() -> str:
            check_trial(spec, shared, confirm_trial)
            async with queue(url) as redis:
                result = await api.submit_campaign(spec, recipients=recipients, settings=cfg, redis=redis)
            console.print(f"campaign [bold]{plain(result.cid)}[/]: {result.batches} batches", highlight=False)
            return result.cid

        cid = run(submit)
        logs = Path(tempfile.mkdtemp(prefix="koodispatch-logs-"))  # a refused campaign leaves none behind
        beside = around(url) if around is not None else contextlib.nullcontext()
        with beside, worker_processes(workers, url, env, logs):

            async def follow(sending: bool) -> str:
                async with queue(url) as redis:
                    report = await watch(redis, cid, follow=sending)
                    if settle is not None:
                        report = await settle(redis, report)
                    render_report(report)
                    return report.state

            def through() -> str:
                sending = through_trial(url, cid, shared=shared, confirm=confirm_trial)
                return run(lambda: follow(sending))

            state = _interruptible(through, cid, shared)
    console.print(f"[dim]worker logs: {plain(logs)}[/]", highlight=False)
    return 0 if state == CampaignState.COMPLETED.value else 1


def _interruptible(follow: Callable[[], str], cid: str, shared: bool) -> str:
    """``follow()``; Ctrl-C stops the workers and says where that leaves the campaign, then exits 130."""
    try:
        return follow()
    except KeyboardInterrupt:
        after = (
            f"`koodispatch resume {cid}` with workers running continues it"
            if shared
            else "its private Redis is gone with this run: nothing can resume it"
        )
        console.print(f"\n[yellow]interrupted:[/] campaign {plain(cid)} stopped; {plain(after)}")
        raise typer.Exit(130) from None


@app.command("run")
def run_command(
    spec: SpecFile,
    recipients: RecipientsFile = None,
    workers: Annotated[int, typer.Option(min=1, help="worker processes to start")] = 2,
    confirm_trial: Annotated[
        bool,
        typer.Option(
            "--confirm-trial", help="with trial_numbers: send to everyone once the trial is sent, unasked"
        ),
    ] = False,
) -> None:
    """All-in-one: submit, run N local workers (REDIS_URL or a private Redis), show progress and report.

    A spec with trial_numbers sends the trial first, then asks before sending to everyone (--confirm-trial:
    does not ask); without REDIS_URL and a terminal to ask on, it needs --confirm-trial.
    """
    raise typer.Exit(run_campaign(spec, recipients, workers, {}, confirm_trial))
