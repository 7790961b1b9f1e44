"""``koodispatch run`` with a trial send (``schedule.trial_numbers``): the list goes out only once someone
said so, and never into a private Redis that nothing could resume afterwards."""

from __future__ import annotations

import asyncio
import select
import sys
from pathlib import Path
from typing import Final, Literal

import typer

from engine.cli.common import connection, console, plain, run
from engine.errors import ConfigError
from engine.state.trial import trial_id
from engine.types import TERMINAL

POLL_SECONDS: Final = 0.5
PROMPT_POLL_SECONDS: Final = 0.1  # how soon a Ctrl-C at the prompt takes effect at the latest


def _ask(question: str) -> bool:
    """y or yes → True; Enter, n or no → False; anything else asks again. Ctrl-C or the end of input raise
    KeyboardInterrupt, as anywhere else in ``run`` (``service._interruptible``).

    Not ``typer.confirm``: its read blocks the main thread, and a Ctrl-C that the kernel hands to another
    thread (polars' pool is alive by now) does not interrupt it — the run then ignored Ctrl-C for good. The
    answer is awaited in short polls instead, so Python raises the interrupt within one.
    """
    while True:
        typer.echo(f"{question} [y/N]: ", nl=False)
        answer = _line().strip().lower()
        if answer in ("y", "yes"):
            return True
        if answer in ("", "n", "no"):
            return False
        typer.echo("please answer y or n", err=True)


def _line() -> str:
    """The next line typed; KeyboardInterrupt at the end of input (Ctrl-D)."""
    while not select.select([sys.stdin], [], [], PROMPT_POLL_SECONDS)[0]:
        pass  # back in Python between polls: a pending Ctrl-C is raised here, whichever thread took it
    line = sys.stdin.readline()
    if not line:
        raise KeyboardInterrupt
    return line


def check_trial(spec: Path, shared: bool, confirm: bool) -> None:
    """Refuse, before anything is sent, a trial spec that ``run`` could only strand: a private Redis (no
    ``REDIS_URL``), no ``--confirm-trial`` and no terminal to ask on. Raises ConfigError saying what to do."""
    from engine.ingest.spec import load_spec

    numbers = load_spec(spec).schedule.trial_numbers
    if not numbers or shared or confirm or sys.stdin.isatty():
        return
    raise ConfigError(
        f"{spec} has {len(numbers)} trial_numbers: the campaign waits after the trial for a resume, but "
        "without REDIS_URL its Redis is private to this run and nothing could resume it; add "
        "--confirm-trial to send to everyone once the trial is sent, or set REDIS_URL to a shared Redis "
        "and resume it yourself"
    )


def through_trial(url: str, cid: str, *, shared: bool, confirm: bool) -> bool:
    """Wait for the trial of ``cid`` to be sent, then resume the campaign when confirmed (by the flag or
    at the prompt). True when the list is now sending (or there was no trial), False when it waits.

    The prompt runs outside the event loop: a blocking read inside ``asyncio.run`` ignores Ctrl-C.
    """
    from engine import api

    outcome = run(lambda: _trial_outcome(url, cid))
    if outcome != "sent":
        return outcome == "sending"
    console.print(
        f"trial sent: `koodispatch report {plain(trial_id(cid))}` shows what the trial numbers got",
        highlight=False,
    )
    if confirm or (sys.stdin.isatty() and _ask("send to everyone on the list now?")):

        async def resume() -> None:
            async with connection(url) as redis:
                await api.resume(cid, redis=redis)

        run(resume)
        return True
    where = f"`koodispatch resume {cid}` sends to everyone" if shared else "its Redis ends with this run"
    console.print(f"[yellow]not sent to the list:[/] {plain(where)}", highlight=False)
    return False


async def _trial_outcome(url: str, cid: str) -> Literal["sending", "sent", "stopped"]:
    """Once the trial is over: ``sent`` (the list waits for the go-ahead), ``sending`` (no trial, or the
    list resumed by hand meanwhile) or ``stopped`` (cancelled)."""
    from engine.state import campaigns, trial

    async with connection(url) as redis:
        record = await campaigns.load(redis, cid)
        if record.reason == trial.SENDING:
            numbers = len(record.spec.schedule.trial_numbers)
            console.print(f"sending the trial to {numbers} numbers …", highlight=False)
        while record.reason == trial.SENDING and record.state not in TERMINAL:
            await asyncio.sleep(POLL_SECONDS)
            record = await campaigns.load(redis, cid)
    if record.reason == trial.SENT:
        return "sent"
    return "stopped" if record.state in TERMINAL else "sending"
