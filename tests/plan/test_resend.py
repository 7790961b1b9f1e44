"""resend-failed: a new campaign of exactly the failed numbers, with their parameters, sent exactly once."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from arq.connections import ArqRedis

from engine import api
from engine.errors import ConfigError, InputError, StateError
from engine.ingest.demo_data import generate_recipients
from engine.simulator import SimulatorThread
from engine.simulator.capability import is_capable
from engine.state import campaigns
from engine.state.batches import load_batch
from engine.state.progress import counters
from engine.store import keys
from tests.commands import SPEC, cli_env, koodispatch, lifted, report_json, write
from tests.conftest import SHARE
from tests.failures import embedded, name_of, read_export, receipt, typical_outcome
from tests.failures import submit_small as submit
from tests.processes import wait_for, workers


async def recipients_of(
    redis: aioredis.Redis, cid: str, columns: Sequence[str] = ("name", "city")
) -> list[tuple[str, ...]]:
    """(number, *columns) of every frozen recipient of a campaign, in order."""
    record = await campaigns.load(redis, cid)
    rows: list[tuple[str, ...]] = []
    for number in range(record.batches):
        batch = await load_batch(redis, cid, number, columns)
        rows += [(n, *batch.row(i, columns)) for i, n in enumerate(batch.numbers)]
    return rows


async def test_resend_freezes_exactly_the_failed_numbers_with_their_parameters(
    arq_redis: ArqRedis, tmp_path: Path
) -> None:
    cid = await submit(arq_redis, tmp_path)
    expected = await typical_outcome(arq_redis, cid)

    result = await api.resend_failed(cid, redis=arq_redis, preflight=False)

    assert result.created and result.cid.startswith(f"{cid}-resend-") and len(result.cid) <= 64
    failed = [row[0] for row in expected]
    assert await recipients_of(arq_redis, result.cid) == [(n, name_of(n), "深圳") for n in failed]
    new, old = await campaigns.load(arq_redis, result.cid), await campaigns.load(arq_redis, cid)
    assert new.spec.model_dump(exclude={"id", "recipients"}) == old.spec.model_dump(
        exclude={"id", "recipients"}
    )
    assert new.counts["accepted"] == len(failed) and new.state.value == "running"
    assert (
        await arq_redis.zcard(keys.QUEUE) == 1 + 3
    )  # the new campaign's one batch beside the original's three


async def test_resend_never_takes_a_number_delivered_on_any_channel(
    arq_redis: ArqRedis, tmp_path: Path
) -> None:
    """smart[4] was reported undelivered on smart; its late SMS was then delivered: it is not resent."""
    cid = await submit(arq_redis, tmp_path)
    expected = await typical_outcome(arq_redis, cid)
    delivered_late = next(row[0] for row in expected if row[1:4] == ("smart", "delivery", "undelivered"))
    await receipt(arq_redis, cid, delivered_late, "sms", True, "DELIVRD")

    result = await api.resend_failed(cid, redis=arq_redis, preflight=False, reasons=["undelivered"])

    resent = [r[0] for r in await recipients_of(arq_redis, result.cid)]
    assert delivered_late not in resent
    assert resent == [row[0] for row in expected if row[3] == "undelivered" and row[0] != delivered_late]


async def test_resend_filters_by_reason_and_channel(arq_redis: ArqRedis, tmp_path: Path) -> None:
    cid = await submit(arq_redis, tmp_path)
    expected = await typical_outcome(arq_redis, cid)

    undelivered = await api.resend_failed(
        cid, redis=arq_redis, preflight=False, reasons=["undelivered"], new_id="only-undelivered"
    )
    sms = await api.resend_failed(cid, redis=arq_redis, preflight=False, channel="sms", new_id="only-sms")

    assert undelivered.cid == "only-undelivered"
    assert [r[0] for r in await recipients_of(arq_redis, "only-undelivered")] == [
        row[0] for row in expected if row[3] == "undelivered"
    ]
    assert [r[0] for r in await recipients_of(arq_redis, sms.cid)] == [
        row[0] for row in expected if row[1] == "sms"
    ]


async def test_resending_the_same_failures_again_finds_the_first_resend(
    arq_redis: ArqRedis, tmp_path: Path
) -> None:
    cid = await submit(arq_redis, tmp_path)
    await typical_outcome(arq_redis, cid)
    first = await api.resend_failed(cid, redis=arq_redis, preflight=False)
    keys_after_first = await arq_redis.dbsize()

    again = await api.resend_failed(cid, redis=arq_redis, preflight=False)

    assert (again.cid, again.created) == (first.cid, False)
    assert await arq_redis.dbsize() == keys_after_first


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({}, InputError, "no failed number to resend"),
        ({"reasons": ["limited"]}, InputError, "no failed number with reason limited to resend"),
        ({"channel": "fax"}, ConfigError, "channel 'fax'"),
        ({"new_id": "no spaces allowed"}, ConfigError, "id"),
    ],
)
async def test_nothing_to_resend_or_a_bad_option_writes_nothing(
    kwargs: dict[str, Any], error: type[Exception], message: str, arq_redis: ArqRedis, tmp_path: Path
) -> None:
    cid = await submit(arq_redis, tmp_path)
    if kwargs:
        await typical_outcome(arq_redis, cid)
    keys_before = await arq_redis.dbsize()

    with pytest.raises(error, match=message):
        await api.resend_failed(cid, redis=arq_redis, preflight=False, **kwargs)

    assert await arq_redis.dbsize() == keys_before


async def test_resend_of_an_unknown_campaign(arq_redis: ArqRedis) -> None:
    with pytest.raises(StateError, match="unknown campaign"):
        await api.resend_failed("no-such-id", redis=arq_redis, preflight=False)


# -- end to end: a fallback template the provider dropped, the report, the export, the resend ----------

# the CLI tests' campaign, with the basic edition as the fallback (its template is dropped below)
E2E_SPEC = SPEC.replace(
    'policy = "sms"\nsms_params = ["name"]',
    'policy = "basic"\nbasic_template_id = "200000001"\nbasic_params = ["name"]',
)


def without_basic_templates(sim: SimulatorThread) -> dict[str, Any]:
    """Withdraw the basic-edition templates at the provider; returns the catalogue to restore later."""
    catalogue: dict[str, Any] = sim.call(lambda running: copy.deepcopy(running.config.templates))
    sim.update_config({"templates": {**catalogue, "basic": []}})
    return catalogue


@pytest.mark.slow
async def test_failed_numbers_are_reported_exported_and_resent_exactly_once(
    tmp_path: Path, redis_url: str, redis_client: aioredis.Redis, sim: SimulatorThread
) -> None:
    truth = generate_recipients(tmp_path / "r.csv", 1_500, seed=21)
    not_capable = [n for n in truth.numbers.to_list() if not is_capable(n, SHARE)]
    env = cli_env(redis_url, sim.url, **lifted())
    submitted = await koodispatch(
        "submit",
        str(write(tmp_path / "spec.toml", E2E_SPEC)),
        "--recipients",
        str(tmp_path / "r.csv"),
        env=env,
    )
    assert submitted.code == 0, submitted.err
    cid = submitted.out.splitlines()[0]
    catalogue = without_basic_templates(sim)  # every basic-edition call is now refused

    with workers(1, env, tmp_path):
        await wait_for(redis_client, cid, max_wait=120)
        export, page = tmp_path / "failed.xlsx", tmp_path / "report.html"
        report = report_json(
            await koodispatch(
                "report", cid, "--json", "--failed-out", str(export), "--html", str(page), env=env
            )
        )
        c = await counters(redis_client, cid)
        assert report["funnel"]["basic"] == {
            "submitted": len(not_capable),
            "accepted": 0,
            "delivered": c.get("delivered:basic", 0),
            "undelivered": c.get("undelivered:basic", 0),
            "awaiting": 0,
            "failed": c["failed_on:basic"],
            "undelivered_by_status": {},
            "failed_by_reason": {"template": len(not_capable)},
        }
        assert report["funnel"]["smart"]["accepted"] == c["sent:smart"] == truth.imported - len(not_capable)
        assert report["failed_by_reason"] == {"template": len(not_capable)}
        exported = read_export(export)[1:]
        assert [row[0] for row in exported] == not_capable
        assert {row[1:5] for row in exported} == {("basic", "send", "template", "KM.00001082")}
        assert embedded(page.read_text(encoding="utf-8")) == report

        sim.update_config({"templates": catalogue})  # the template is back: resend what failed
        resent = await koodispatch("resend-failed", cid, "--reason", "template", env=env)
        assert resent.code == 0, resent.err
        new_cid = resent.out.splitlines()[0]
        assert [r[0] for r in await recipients_of(redis_client, new_cid, ())] == not_capable
        done = await wait_for(redis_client, new_cid, max_wait=120)

    assert done.state == "completed" and done.sent["basic"] == len(not_capable) and done.failed == 0
    ledger = sim.ledger(detail=True)
    assert ledger["basic"]["unique"] == len(not_capable) and ledger["basic"]["duplicates"] == 0
    assert set(ledger["basic"]["numbers"]) == set(not_capable)
    assert (
        ledger["smart"]["unique"] == truth.imported - len(not_capable) and ledger["smart"]["duplicates"] == 0
    )
