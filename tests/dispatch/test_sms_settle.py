"""Plain SMS whose answer was lost is settled from its status reports: confirmed by any report, resent once
no report came within the receipt timeout; at most once, and said so, without a receipts service.

Real workers, the simulator dropping SMS answers after accepting the call (the call landed) or before it
reached the handler (it did not), the receipts service as its own process; the ledger is the judge.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.reports.summary import build_report
from engine.simulator.capability import is_capable
from engine.state.progress import counters
from tests.conftest import SHARE
from tests.dispatch.crashes import FAST_TAKEOVER, reset, started
from tests.dispatch.settling import all_reported, receipts_service, report_to, settled, settling_env
from tests.processes import sim_get, wait_for, workers

pytestmark = pytest.mark.slow
SMS_FAULTS = {"sms": {"drop_after_accept_share": 0.3, "drop_share": 0.3}}
ROWS, BATCH = 6000, 200  # 30 batches: each has one SMS chunk of its ~60 numbers not capable


async def test_lost_sms_answers_are_confirmed_by_reports_or_resent_after_the_timeout(
    tmp_path: Path, redis_url: str, simulator_thread: Any
) -> None:
    sim = simulator_thread
    reset(sim, channel_faults=SMS_FAULTS)
    with receipts_service(redis_url, {}, tmp_path / "receipts.log") as receipts:
        report_to(sim, receipts)
        env = {**FAST_TAKEOVER, **settling_env(timeout=3)}
        async with started(redis_url, sim.url, tmp_path, ROWS, 31, BATCH, "sms", **env) as run:
            with workers(2, run.env, tmp_path):
                await wait_for(run.redis, run.cid, max_wait=180)
                await settled(run.redis, run.cid)
                c = await all_reported(run.redis, run.cid, ("smart", "sms"))
            report = await build_report(run.redis, run.cid)
    ledger = sim_get(sim, "/_simulator/ledger")
    not_capable = sum(not is_capable(n, SHARE) for n in run.truth.numbers.to_list())
    assert ledger["faults"]["drop_after_accept"]["sms"] > 0 and ledger["faults"]["drop"]["sms"] > 0
    assert ledger["sms"]["duplicates"] == 0 and ledger["sms"]["unique"] == not_capable
    assert report.sent["sms"] == not_capable and report.failed == 0 and report.state == "completed"
    assert c["chunks:confirmed_by_receipts"] > 0 and c["chunks:resent_after_timeout"] > 0, c
    assert "chunks:unconfirmed" not in c and c["settling"] == 0
    assert report.paths["confirmed_by_receipts"] == c["chunks:confirmed_by_receipts"]


async def test_without_receipts_a_lost_sms_answer_is_failed_unconfirmed_and_never_resent(
    tmp_path: Path, redis_url: str, simulator_thread: Any
) -> None:
    sim = simulator_thread
    reset(sim, channel_faults=SMS_FAULTS)
    async with started(redis_url, sim.url, tmp_path, ROWS, 32, BATCH, "sms", **FAST_TAKEOVER) as run:
        with workers(2, run.env, tmp_path):
            report = await wait_for(run.redis, run.cid, max_wait=180)
        c = await counters(run.redis, run.cid)
    ledger = sim_get(sim, "/_simulator/ledger")
    not_capable = sum(not is_capable(n, SHARE) for n in run.truth.numbers.to_list())
    unconfirmed = report.failed_by_reason["unconfirmed"]
    assert ledger["sms"]["duplicates"] == 0 and unconfirmed > 0
    assert report.sent["sms"] + unconfirmed == not_capable
    assert ledger["sms"]["unique"] <= not_capable  # some unconfirmed calls landed: never sent twice
    assert c["chunks:unconfirmed"] == report.paths["unconfirmed"] > 0
    assert any("at most once" in note for note in report.notes())
