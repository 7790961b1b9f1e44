"""Forged receipts and opt-outs, posted with the right token after a real campaign: each is rejected with a
reason and changes nothing — no outcome, no counter, no key, no funnel, nothing to resend or suppress."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
import pytest
import redis.asyncio as aioredis

from engine import api
from engine.errors import InputError
from engine.ingest.demo_data import generate_recipients
from engine.provider.callbacks import receipt_url
from engine.state.progress import counters
from engine.store import keys
from tests.processes import wait_for, workers
from tests.receipts.test_end_to_end import TOKEN, Setup, register, setup, spec, until

pytestmark = pytest.mark.slow
__all__ = ["setup"]  # the fixture, shared with the single-campaign receipts tests
FORM = "application/x-www-form-urlencoded"
NEVER_MESSAGED = [f"1990{i:07d}" for i in range(50_000)]


async def post(url: str, body: bytes, content_type: str) -> dict[str, Any]:
    headers = {"Content-Type": content_type}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=io.BytesIO(body), headers=headers) as response,
    ):
        assert response.status == 200
        answer: dict[str, Any] = orjson.loads(await response.read())
        return answer


def smart(task_id: str, number: str, status: str = "UNDELIV") -> bytes:
    item = {"task_id": task_id, "cust_flag": number, "send_status": status}
    envelope = {"request_id": "r", "callback_type": "sms", "body": orjson.dumps([item]).decode()}
    return orjson.dumps(envelope)


def basic(task_id: str, number: str) -> bytes:
    report = {"task_id": task_id, "mobile": number, "status": 1, "code": "UNDELIV"}
    return orjson.dumps({"seq_id": "s", "reports": [report]})


def sms(extend: str, number: str) -> bytes:
    return urlencode({"smsMsgId": "m", "status": "UNDELIV", "extend": extend, "to": "+86" + number}).encode()


async def rejected(redis: aioredis.Redis) -> Counter[str]:
    stats: dict[bytes, bytes] = await redis.hgetall(keys.RECEIPT_STATS)  # type: ignore[misc]
    return Counter(
        {k.decode().removeprefix("rejected:"): int(v) for k, v in stats.items() if k.startswith(b"rejected:")}
    )


async def every_key(redis: aioredis.Redis) -> set[bytes]:
    return {key async for key in redis.scan_iter(match="kd:*")}


async def campaign(setup: Setup, redis: aioredis.Redis, tmp_path: Path) -> tuple[str, int]:
    """A 1,000-number campaign (smart, plain-SMS fallback) sent and every status report recorded."""
    setup.sim.update_config({"callbacks": {"outcomes": {"DELIVRD": 0.8, "UNDELIV": 0.2}}})
    await register(setup)
    generate_recipients(tmp_path / "r.csv", 1000, seed=11)
    result = await api.submit_campaign(
        spec(), redis=setup.queue, recipients=tmp_path / "r.csv", settings=setup.settings
    )
    with workers(1, setup.env, tmp_path):
        await wait_for(setup.queue, result.cid, max_wait=120)

        async def all_reported() -> bool:
            c = await counters(redis, result.cid)
            return all(
                c.get(f"delivered:{ch}", 0) + c.get(f"undelivered:{ch}", 0) == c.get(f"sent:{ch}", 0) > 0
                for ch in ("smart", "sms")
            )

        await until(all_reported)
    return result.cid, result.batches


async def test_forged_receipts_are_rejected_by_reason_and_change_nothing(
    setup: Setup, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    cid, _ = await campaign(setup, redis_client, tmp_path)
    tasks = list(setup.sim.store.smart.values())
    first, other = tasks[0], tasks[1]
    delivered = next(m for m, o in zip(first.mobiles, first.outcomes, strict=True) if o == "DELIVRD")
    sms_sends = setup.sim.ledger.snapshot(detail=True, channel="sms")["sms"]["numbers"]
    sms_number, sms_sent = next(iter(sms_sends.items()))
    sms_ref = sms_sent["sends"][0]["extend"]
    before = (await counters(redis_client, cid), await every_key(redis_client))
    report_before = (await api.campaign_report(cid, redis=redis_client)).to_dict()

    forged = [
        ("basic", basic(first.task_id, delivered), "channel"),  # a basic report on a real smart task id
        ("smart", smart(first.task_id, other.mobiles[0]), "number"),  # a number of another chunk
        ("smart", smart(first.task_id, "13000000000"), "number"),  # a number never sent to
        ("sms", sms("ghost-campaign:7:sms:0", sms_number), "unknown_batch"),  # any campaign or batch
        ("sms", sms(f"{cid}:0:smart:0", first.mobiles[0]), "channel"),  # a smart chunk on the SMS route
        ("sms", sms(f"{cid}:0:sms:99", sms_number), "unknown_chunk"),  # a chunk never journaled
        ("sms", sms(sms_ref, delivered), "number"),  # a real SMS chunk, a smart number
        ("sms", sms("not-a-reference", sms_number), "reference"),
    ]
    for kind, body, reason in forged:
        seen = await rejected(redis_client)
        content = FORM if kind == "sms" else "application/json"
        answer = await post(receipt_url(setup.receipts, TOKEN, kind), body, content)
        assert answer["new"] == 0, (kind, reason)
        assert await rejected(redis_client) - seen == Counter({reason: 1}), (kind, reason)

    assert (await counters(redis_client, cid), await every_key(redis_client)) == before
    report = (await api.campaign_report(cid, redis=redis_client)).to_dict()
    assert report == report_before and report["funnel"]["basic"]["undelivered"] == 0
    with pytest.raises(InputError, match="no failed number"):
        await api.resend_failed(cid, redis=setup.queue, channel="basic", preflight=False)


async def test_opt_outs_are_taken_only_from_numbers_the_account_messaged(
    setup: Setup, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    await campaign(setup, redis_client, tmp_path)
    task = next(iter(setup.sim.store.smart.values()))
    messaged = task.mobiles[0]
    # a real task id (of a smart send: not a basic-edition one) or one never issued, 2.3 MB in one post
    replies = [
        {"task_id": task.task_id if i % 2 else f"forged-{i}", "mobile": n, "content": "TD"}
        for i, n in enumerate([*NEVER_MESSAGED, messaged])
    ]
    flood = {"seq_id": "s", "replies": replies}
    answer = await post(
        receipt_url(setup.receipts, TOKEN, "basic-uplink"), orjson.dumps(flood), "application/json"
    )
    assert answer["opt_out"] == 0
    for sender in (NEVER_MESSAGED[0], messaged):
        body = urlencode({"smsMsgId": "x", "from": "+86" + sender, "to": "1069", "body": "TD"}).encode()
        await post(receipt_url(setup.receipts, TOKEN, "uplink"), body, FORM)
    assert await redis_client.smembers(keys.SUPPRESSION) == {messaged.encode()}  # type: ignore[misc]
    assert (await rejected(redis_client))["opt_out"] == len(NEVER_MESSAGED) + 2
