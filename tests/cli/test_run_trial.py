"""``koodispatch run`` with trial numbers: refused where nothing could resume it, confirmed by a flag or at
the prompt, and Ctrl-C says where it leaves the campaign."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from engine.ingest.demo_data import generate_recipients
from engine.simulator import SimulatorThread
from tests.commands import SPEC, cli_env, koodispatch, write
from tests.terminal import terminal

TRIAL = '\n[schedule]\ntrial_numbers = ["13800138000"]\n'


def _private(redis_url: str, sim: SimulatorThread, tmp: Path) -> dict[str, str]:
    """The environment of ``run`` without REDIS_URL: its own private Redis, data under ``tmp``."""
    env = cli_env(redis_url, sim.url, TMPDIR=str(tmp))
    return {k: v for k, v in env.items() if k not in ("REDIS_URL", "KOODISPATCH_REDIS_URL")}


def _args(tmp: Path, *extra: str) -> list[str]:
    generate_recipients(tmp / "r.csv", 40, seed=4)
    spec = write(tmp / "trial.toml", SPEC + TRIAL)
    return ["run", str(spec), "--recipients", str(tmp / "r.csv"), "--workers", "1", *extra]


async def test_a_trial_spec_without_a_shared_redis_or_a_terminal_needs_confirm_trial(
    tmp_path: Path, redis_url: str, sim: SimulatorThread
) -> None:
    run = await koodispatch(*_args(tmp_path), env=_private(redis_url, sim, tmp_path))

    assert run.code == 2 and run.out == ""
    [line] = run.err.splitlines()
    assert "1 trial_numbers" in line and "nothing could resume it" in line and "--confirm-trial" in line
    assert sim.ledger()["calls"]["smart"] == sim.ledger()["calls"]["capability"] == 0


async def test_confirm_trial_sends_the_trial_then_everyone(
    tmp_path: Path, redis_url: str, sim: SimulatorThread
) -> None:
    run = await koodispatch(*_args(tmp_path, "--confirm-trial"), env=_private(redis_url, sim, tmp_path))

    assert run.code == 0, run.err
    assert "trial sent: `koodispatch report" in run.out and "— completed" in run.out


def test_at_a_terminal_run_asks_before_sending_to_everyone_and_ctrl_c_says_where_it_stopped(
    tmp_path: Path, redis_url: str, sim: SimulatorThread
) -> None:
    with terminal(*_args(tmp_path), env=_private(redis_url, sim, tmp_path)) as term:
        term.expect(r"send to everyone on the list now\? \[y/N\]")
        term.type("y\n")
        assert term.wait() == 0
        assert "— completed" in term.text
    again = tmp_path / "again"
    again.mkdir()
    with terminal(*_args(again), env=_private(redis_url, sim, again)) as term:
        term.expect(r"send to everyone on the list now\? \[y/N\]")
        os.killpg(term.proc.pid, signal.SIGINT)
        assert term.wait() == 130
        assert "interrupted: campaign" in term.text and "nothing can resume it" in " ".join(term.text.split())


def test_ctrl_c_at_the_prompt_works_when_another_thread_takes_the_signal() -> None:
    """The kernel may hand a Ctrl-C to any thread of the process (polars' pool is alive at the prompt); a
    read blocked in the main thread is then not interrupted. The prompt must still give up within its poll
    (a CI run once hung 3 minutes at it). Here SIGINT goes to a sleeping helper thread on purpose."""
    probe = (
        "import os, pty, signal, sys, threading, time\n"
        "from engine.cli import trial_run\n"
        "_, slave = pty.openpty()\n"
        "sys.stdin = os.fdopen(slave, 'r')  # a terminal nobody types on\n"
        "helper = threading.Thread(target=time.sleep, args=(60,), daemon=True)\n"
        "helper.start()\n"
        "threading.Timer(0.5, signal.pthread_kill, (helper.ident, signal.SIGINT)).start()\n"
        "started = time.monotonic()\n"
        "try:\n"
        "    trial_run._ask('send?')\n"
        "except KeyboardInterrupt:\n"
        "    print(f'interrupted after {time.monotonic() - started:.1f} s')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("send? [y/N]: interrupted after"), done.stdout
