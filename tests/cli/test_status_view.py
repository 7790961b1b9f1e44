"""What ``status`` shows of a running campaign: numbers done one provider call at a time, the rate over a
stated recent window, an ETA, within 80 columns; plain lines when the output is not a terminal."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from engine.ingest.demo_data import generate_recipients
from engine.simulator import SimulatorThread
from tests.commands import SPEC, cli_env, write
from tests.processes import workers
from tests.terminal import terminal

PACE = re.compile(r"([\d,]+)/([\d,]+) numbers  rate ([\d,]+)/s \(last (\d+) s\)  ETA (\d+:\d\d:\d\d)")


def _koodispatch(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def paced(tmp_path: Path, redis_url: str, sim: SimulatorThread) -> dict[str, str]:
    """A campaign of ~2,800 numbers sent at 250/s (about 11 s), submitted; its env has ``CID``."""
    env = cli_env(
        redis_url,
        sim.url,
        KOODISPATCH_RATES__SMART="250",
        KOODISPATCH_RATES__SMS="250",
        KOODISPATCH_RATES__CAPABILITY="50000",
        KOODISPATCH_DISPATCH__BATCH_SIZE="500",
    )
    generate_recipients(tmp_path / "r.csv", 3000, seed=6)
    spec = write(tmp_path / "spec.toml", SPEC)
    submitted = _koodispatch("submit", str(spec), "--recipients", str(tmp_path / "r.csv"), env=env)
    assert submitted.returncode == 0, submitted.stderr
    return {**env, "CID": submitted.stdout.split()[0]}


def test_watch_on_a_terminal_shows_numbers_the_recent_rate_and_an_eta_in_80_columns(
    tmp_path: Path, paced: dict[str, str]
) -> None:
    cid = paced["CID"]
    with workers(1, paced, tmp_path), terminal("status", cid, "--watch", env=paced) as term:
        term.expect(r"rate [1-9][\d,]*/s \(last \d+ s\)  ETA 0:00:\d\d")
        once = _koodispatch("status", cid, env=paced)  # one-shot, while it sends
        assert term.wait() == 0
    frames = [PACE.search(line) for line in term.text.splitlines()]
    moving = [m for m in frames if m and 0 < int(m[1].replace(",", "")) < int(m[2].replace(",", ""))]
    assert moving and all(int(m[3].replace(",", "")) > 0 for m in moving[-3:])
    assert len({m[1] for m in moving}) > 3  # it moved more often than once per 500-number batch
    assert max(len(segment) for segment in term.segments) <= 80
    assert re.search(r"2,\d{3}/2,\d{3} numbers  rate [1-9][\d,]*/s \(average over 0:00:\d\d\)", term.text)
    assert once.returncode == 0, once.stderr
    assert re.search(r"rate [1-9][\d,]*/s \(last 2 s\)", once.stdout), once.stdout


def test_watch_into_a_pipe_prints_plain_progress_lines_while_it_runs(
    tmp_path: Path, paced: dict[str, str]
) -> None:
    watch = [sys.executable, "-m", "engine.cli", "status", paced["CID"], "--watch"]
    with (
        workers(1, paced, tmp_path),
        subprocess.Popen(watch, env=paced, stdout=subprocess.PIPE, text=True) as proc,
    ):
        assert proc.stdout is not None
        first = proc.stdout.readline()  # arrives while the campaign runs, not at its end
        rest = proc.stdout.read()
        assert proc.wait(timeout=120) == 0
    assert re.search(r"\d\d:\d\d:\d\d  [\d,]+/[\d,]+ numbers  rate .*  running", first), first
    assert "━" not in first  # no redrawn bars in a pipe
    assert len([line for line in rest.splitlines() if PACE.search(line)]) >= 2


def test_one_shot_status_of_a_paused_campaign_shows_no_rate_and_the_reason(
    tmp_path: Path, paced: dict[str, str]
) -> None:
    assert _koodispatch("pause", paced["CID"], env=paced).returncode == 0

    with terminal("status", paced["CID"], env=paced) as term:
        assert term.wait() == 0, term.text

    assert "rate —" in term.text and "paused — paused by operator" in term.text
