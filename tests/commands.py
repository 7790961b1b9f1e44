"""Running the real ``koodispatch`` command line as a subprocess against a test Redis DB and the simulator."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson
import pytest
import xlsxwriter

from engine.ingest.demo_data import generate_recipients
from tests.processes import engine_env

LIFTED: Final = "50000"  # numbers/s: where a test checks counts, not pacing


CLI_TIMEOUT: Final = 120.0  # seconds; a hung command fails its test rather than the session


FULL_NUMBER: Final = re.compile(r"(?<!\d)1\d{10}(?!\d)")


REPORT_KEYS: Final = {
    "campaign", "state", "imported", "duplicates", "invalid", "suppressed", "capable", "not_capable",
    "sent", "skipped", "failed", "failed_by_reason", "unsent", "accepted",
}  # fmt: skip


SPEC: Final = """\
name = "cli-test"

[smart]
template_id = "100000001"
sms_params = ["name"]
dync_params = { name = "name" }

[sms_channel]
channel_number = "10690000"
sms_template_id = "sms_tpl_1"
signature = "华为云"
app_name = "cli-test"

[fallback]
policy = "sms"
sms_params = ["name"]
"""


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


async def koodispatch(*args: str, env: Mapping[str, str], prefix: Sequence[str] = ()) -> Run:
    """Run ``[prefix] python -m engine.cli ARGS`` to completion without blocking the event loop."""
    proc = await asyncio.create_subprocess_exec(
        *prefix,
        sys.executable,
        "-m",
        "engine.cli",
        *args,
        env=dict(env),
        stdin=subprocess.DEVNULL,  # no terminal to ask on, as in a script
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), CLI_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.communicate()
        raise
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode(), err.decode())


def cli_env(redis_url: str, sim_url: str, **extra: str) -> dict[str, str]:
    """A worker/CLI environment on the test DB and the simulator, with plain (uncoloured) output."""
    env = engine_env(redis_url, sim_url, **extra)
    env.pop("FORCE_COLOR", None)
    return env


def unprivileged() -> tuple[str, ...]:
    """A command prefix under which file permissions hold as for any user: as root (tests and CI), without
    the two capabilities that let root read every file. Switching to an unprivileged user instead is not
    possible where the interpreter lives in root's home (pyenv). Skips the test without setpriv."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv (util-linux): root reads every file")
    return (setpriv, "--bounding-set=-dac_override,-dac_read_search")


def locked(path: Path) -> Path:
    """``path`` (a file or a directory) with every permission taken away."""
    path.chmod(0)
    return path


def folder(path: Path) -> Path:
    path.mkdir()
    return path


def locked_in(where: Path, name: str, content: str) -> Path:
    """A file ``name`` in a new folder ``where``, which no one may then enter (see ``locked``)."""
    path = write(folder(where) / name, content)
    locked(where)
    return path


def xlsx_file(path: Path, *rows: Sequence[str]) -> Path:
    with xlsxwriter.Workbook(path) as book:
        sheet = book.add_worksheet()
        for number, row in enumerate(rows):
            sheet.write_row(number, 0, row)
    return path


def lifted(**extra: str) -> dict[str, str]:
    rates = {f"KOODISPATCH_RATES__{c.upper()}": LIFTED for c in ("smart", "sms", "basic", "capability")}
    return {**rates, **extra}


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def submit_args(tmp: Path, recipients: Path, spec: str = SPEC) -> list[str]:
    return ["submit", str(write(tmp / "spec.toml", spec)), "--recipients", str(recipients)]


def report_json(run: Run) -> dict[str, Any]:
    assert run.code == 0, run.err
    data: dict[str, Any] = orjson.loads(run.out)
    return data


# -- bad-input cases (the table in tests/cli/test_commands.py) ------------------------------------------


@dataclass(frozen=True)
class BadInput:
    """One bad command line: one error line holding every fragment of ``expect``, nothing written."""

    make: Callable[[Path], list[str]]  # writes what the case needs under tmp_path; returns the CLI args
    expect: tuple[str, ...]  # fragments the error line must contain
    env: tuple[tuple[str, str], ...] = ()
    absent: tuple[str, ...] = ()  # what the error line must not show (secrets)
    unprivileged: bool = False  # run where file permissions hold, root's too (see ``unprivileged``)


GOOD = "mobile,name\n13000000001,a\n"


def recipients_case(name: str, content: str | bytes, *expect: str) -> BadInput:
    """Submit the standard spec with a recipient file ``name``; the error must name the file."""
    return BadInput(lambda tmp: submit_args(tmp, write(tmp / name, content)), (name, *expect))


def spec_case(spec: str, *expect: str) -> BadInput:
    """Submit ``spec`` with a good recipient file."""
    return BadInput(lambda tmp: submit_args(tmp, write(tmp / "r.csv", GOOD), spec), expect)


def xlsx(rows: int) -> Callable[[Path], list[str]]:
    """Submit a real xlsx file of ``rows`` rows."""

    def make(tmp: Path) -> list[str]:
        generate_recipients(tmp / "big.xlsx", rows)
        return submit_args(tmp, tmp / "big.xlsx")

    return make


def spec_naming(command: str, recipients: Callable[[Path], object]) -> Callable[[Path], list[str]]:
    """``command`` on a spec naming ``r.csv`` (made by ``recipients``) as its recipient file."""

    def make(tmp: Path) -> list[str]:
        recipients(tmp / "r.csv")
        return [command, str(write(tmp / "spec.toml", SPEC + '[recipients]\nfile = "r.csv"\n'))]

    return make


def unreadable(make: Callable[[Path], list[str]], *expect: str) -> BadInput:
    """A case run where file permissions hold for root too; the error names the file and the reason."""
    return BadInput(make, (*expect, "Permission denied"), unprivileged=True)


def unknown_campaign(command: str) -> BadInput:
    return BadInput(lambda _: [command, "no-such-id"], ("unknown campaign 'no-such-id'",))
