"""resend-failed by another channel, without the original's trial: numbers the basic edition could not
reach go by plain SMS alone (no capability check, no smart message), the trial number is left alone and the
new campaign is sending, not paused."""

from __future__ import annotations

from pathlib import Path

import redis.asyncio as aioredis

from engine import api
from engine.ingest.demo_data import generate_recipients
from engine.simulator import SimulatorThread
from engine.simulator.capability import is_capable
from engine.state import trial
from engine.types import CampaignState
from tests.commands import SPEC, cli_env, koodispatch, lifted, write
from tests.conftest import SHARE
from tests.plan.test_resend import without_basic_templates
from tests.processes import wait_for, workers

TRIAL_NUMBER = "13800138000"
BASIC_THEN_SMS = (
    SPEC.replace(
        'policy = "sms"\nsms_params = ["name"]',
        'policy = "basic"\nsms_params = ["name"]\nbasic_template_id = "200000001"\nbasic_params = ["name"]',
    )
    + f'\n[schedule]\ntrial_numbers = ["{TRIAL_NUMBER}"]\n'
)


async def test_a_resend_by_sms_alone_skips_the_trial_and_the_smart_message(
    tmp_path: Path, redis_url: str, redis_client: aioredis.Redis, sim: SimulatorThread
) -> None:
    truth = generate_recipients(tmp_path / "r.csv", 400, seed=23)
    not_capable = {n for n in truth.numbers.to_list() if not is_capable(n, SHARE)}
    env = cli_env(redis_url, sim.url, **lifted())
    spec = write(tmp_path / "spec.toml", BASIC_THEN_SMS)
    submitted = await koodispatch("submit", str(spec), "--recipients", str(tmp_path / "r.csv"), env=env)
    assert submitted.code == 0, submitted.err
    cid = submitted.out.splitlines()[0]
    assert "state paused — sending the trial" in submitted.out  # why it is paused, where it is shown
    catalogue = without_basic_templates(sim)  # every basic-edition call is refused: those numbers fail

    with workers(1, env, tmp_path):
        await wait_for(redis_client, trial.trial_id(cid), max_wait=60)
        await api.resume(cid, redis=redis_client)
        await wait_for(redis_client, cid, max_wait=60)
        sim.update_config({"templates": catalogue})
        before = sim.ledger(detail=True)
        resent = await koodispatch("resend-failed", cid, "--channel", "sms", "--skip-preflight", env=env)
        assert resent.code == 0, resent.err
        new_cid = resent.out.splitlines()[0]
        assert "state paused" not in resent.out
        done = await wait_for(redis_client, new_cid, max_wait=60)

    after = sim.ledger(detail=True)
    assert done.state == CampaignState.COMPLETED.value and done.failed == 0
    assert done.sent == {"smart": 0, "sms": len(not_capable), "basic": 0}
    sms_before = set(before["sms"]["numbers"])
    assert set(after["sms"]["numbers"]) - sms_before == not_capable  # each failed number once, by SMS
    assert after["calls"]["capability"] == before["calls"]["capability"]  # none asked about again
    assert after["smart"]["accepted"] == before["smart"]["accepted"]
