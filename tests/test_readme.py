"""README "Your first campaign": its commands, extracted from the section and run in order by bash, take a
CSV to a report with delivery receipts (real simulator, receipts service, worker and Redis processes)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from engine.runtime.redis_server import free_port
from tests.commands import cli_env

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Your first campaign"


def first_campaign_script() -> str:
    """The bash blocks of the README section, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return "\n".join(re.findall(r"```bash\n(.*?)```", section, flags=re.S))


def command(folder: Path) -> Path:
    """A ``koodispatch`` executable in ``folder`` that becomes this checkout's CLI (exec: ``kill %1`` stops
    the service itself, as with the installed command)."""
    folder.mkdir()
    script = folder / "koodispatch"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m engine.cli "$@"\n', encoding="utf-8")
    script.chmod(0o755)
    return folder


def test_the_section_names_the_steps_it_runs() -> None:
    script = first_campaign_script()
    for step in ("koodispatch simulate", "koodispatch receipts", "koodispatch worker", "koodispatch plan",
                 "koodispatch submit", "koodispatch status", "koodispatch report"):  # fmt: skip
        assert step in script


def test_your_first_campaign_from_a_csv_to_a_delivered_report(tmp_path: Path, redis_url: str) -> None:
    sim_port, receipts_port = free_port(), free_port()
    script = (
        first_campaign_script()  # this test's Redis and free ports instead of the README's
        .replace("redis://127.0.0.1:6379/0", redis_url)
        .replace("8640", str(sim_port))
        .replace("8650", str(receipts_port))
    )
    sim = f"http://127.0.0.1:{sim_port}"
    env = {k: v for k, v in cli_env(redis_url, sim).items() if not k.startswith("KOODISPATCH_")}
    env.update(KOODISPATCH_PROVIDER__KOOMESSAGE_URL=sim, KOODISPATCH_PROVIDER__SMSAPI_URL=sim)
    env["PYTHONPATH"] = str(ROOT)  # `koodispatch` is this checkout's engine
    env["PATH"] = f"{command(tmp_path / 'bin')}:{env['PATH']}"
    with subprocess.Popen(
        ["bash", "-c", "set -eu\n" + script],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            out, err = proc.communicate(timeout=240)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # anything the script left running
    assert proc.returncode == 0, out[-3000:] + err[-3000:]
    rows = {line.split()[0]: line.split() for line in out.splitlines() if re.match(r"^(smart|sms) +\d", line)}
    # channel submitted accepted delivered undelivered awaiting failed
    delivered = sum(int(row[3].replace(",", "")) for row in rows.values())
    accepted = sum(int(row[2].replace(",", "")) for row in rows.values())
    assert accepted == 4 and delivered > 0, out
    assert "— completed" in out
    assert (tmp_path / "first.html").is_file()
