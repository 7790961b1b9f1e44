"""JSON logs: one object per line, the job's campaign and batch ids, no full number and no secret."""

from __future__ import annotations

import contextvars
import logging
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from engine import api
from engine.ingest.demo_data import generate_recipients
from engine.runtime import logs
from engine.runtime.logs import JsonFormatter
from engine.runtime.settings import DEMO_AK, DEMO_SK, DEMO_SMS_APP_KEY, DEMO_SMS_APP_SECRET, load_settings
from engine.store.connection import open_queue
from tests.conftest import SHARE
from tests.processes import engine_env, sim_post, spec, wait_for, workers

FULL_NUMBER = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
SECRETS = (DEMO_AK, DEMO_SK, DEMO_SMS_APP_KEY, DEMO_SMS_APP_SECRET)


def record(message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord("engine.test", logging.WARNING, __file__, 1, message, args, info)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("sending to %s", "sending to 138****8000"),
        ("sending to +86%s", "sending to +86****8000"),
        ("task e2e-138001380001234 of %s", "task e2e-138001380001234 of 138****8000"),
    ],
)
def test_numbers_are_masked(text: str, shown: str) -> None:
    line = orjson.loads(JsonFormatter().format(record(text, "13800138000")))
    assert line["message"] == shown  # a longer digit run (an id) is not a number and stays


def test_line_carries_the_bound_ids_and_redacts_secrets() -> None:
    formatter = JsonFormatter(secrets=["s3cr3t-key"])
    try:
        raise ValueError("bad answer for 13800138000 signed with s3cr3t-key")
    except ValueError as exc:
        failure = record("call failed", exc=exc)

    def in_job() -> str:
        logs.bind("spring", 7)
        return formatter.format(failure)

    line = orjson.loads(contextvars.copy_context().run(in_job))
    outside = orjson.loads(formatter.format(failure))
    assert (line["level"], line["logger"]) == ("WARNING", "engine.test")
    assert (line["campaign"], line["batch"]) == ("spring", 7)
    assert "ValueError" in line["message"] and "138****8000" in line["message"]
    assert "s3cr3t-key" not in line["message"] and logs.REDACTED in line["message"]
    assert "campaign" not in outside and "batch" not in outside  # ids only where a job bound them


LOGGING_PROCESS = """
import logging, sys
from engine.cli.common import setup_logging
setup_logging("INFO", sys.argv[1], ["s3cr3t-key"])
log = logging.getLogger("engine.receipts.store")
log.info("opt-out: added (%s) with s3cr3t-key", ", ".join(f"1380013{i:04d}" for i in range(50_000)))
try:
    raise ValueError("answer for +8613800138000: " + "x" * 50_000 + " the end")
except ValueError:
    log.exception("call failed")
"""


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_both_formats_mask_numbers_redact_secrets_and_cap_lines(log_format: str) -> None:
    """Through ``setup_logging`` in a process of its own, as a service logs: a record listing 50k numbers
    (an opt-out of 50k senders) and a traceback quoting a huge answer."""
    done = subprocess.run(
        [sys.executable, "-c", LOGGING_PROCESS, log_format],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    if log_format == "json":
        assert [orjson.loads(line)["level"] for line in done.stderr.splitlines()] == ["INFO", "ERROR"]
    assert done.stderr.count(" engine.receipts.store: ") == (2 if log_format == "text" else 0)
    assert len(done.stderr) < 2 * (logs.MAX_MESSAGE + logs.MAX_TRACEBACK)
    assert not FULL_NUMBER.search(done.stderr) and "138****0000" in done.stderr
    assert "s3cr3t-key" not in done.stderr and logs.REDACTED in done.stderr
    assert "characters cut]" in done.stderr and "ValueError" in done.stderr and "the end" in done.stderr


async def test_worker_json_logs(tmp_path: Path, redis_url: str, simulator_thread: Any) -> None:
    sim = simulator_thread
    sim_post(sim, "/_simulator/reset", {})
    sim_post(sim, "/_simulator/config", {"capable_share": SHARE, "rates": {"smart": None, "sms": None}})
    truth = generate_recipients(tmp_path / "r.csv", 500, seed=6)
    env = engine_env(redis_url, sim.url)
    redis = await open_queue(redis_url)
    try:
        result = await api.submit_campaign(
            spec("sms"), redis=redis, recipients=tmp_path / "r.csv", settings=load_settings(), preflight=False
        )
        with workers(1, env, tmp_path, ["--log-format", "json", "--log-level", "DEBUG"]):
            report = await wait_for(redis, result.cid, max_wait=60)
    finally:
        await redis.aclose()
    assert report.state == "completed"

    text = (tmp_path / "worker-0.log").read_text(encoding="utf-8")
    lines = [orjson.loads(line) for line in text.splitlines() if line]
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    in_batch = [line for line in lines if line.get("campaign") == result.cid and line.get("batch") == 0]
    assert any(line["logger"] == "workers.jobs" for line in in_batch)
    assert any(line["logger"].startswith("engine.provider") for line in in_batch)  # ids reach library code
    assert not FULL_NUMBER.search(text)
    assert not set(truth.numbers.to_list()) & set(re.findall(r"[0-9]{11}", text))
    assert not any(secret in text for secret in SECRETS)
