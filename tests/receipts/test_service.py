"""The receipts service over loopback on a real Redis: formats, idempotency, authentication, opt-out."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import numpy as np
import orjson
import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from engine.ingest.spec import CampaignSpec
from engine.plan import planner
from engine.provider.callbacks import receipt_url
from engine.provider.signer import Credentials, sign
from engine.receipts.auth import TOKEN_HEADER
from engine.receipts.parse import PARSERS
from engine.receipts.server import serve
from engine.runtime.settings import Settings, load_settings
from engine.state import delivery as outcomes
from engine.state import reached
from engine.state.batches import pack
from engine.state.progress import Progress, counters
from engine.state.records import ChunkPath, ChunkRecord, ChunkState, Stage, chunk_field, chunk_ref
from engine.store import keys
from engine.store.connection import open_queue
from engine.store.scripts import Scripts

TOKEN = "receipts-test-token-0123456789"
CID = "rcpt"
SMART_REF = f"{CID}:3:smart:0"
NUMBER = "13512345678"
OTHER = "13512345679"
FROZEN = [NUMBER, OTHER, "13512345600"]  # the numbers of every frozen batch here, in order


def receipt_settings(**receipts: Any) -> Settings:
    return load_settings(receipts_token=SecretStr(TOKEN), receipts=receipts)


@pytest.fixture
async def service(redis_client: aioredis.Redis) -> AsyncIterator[str]:
    """The receipts service on a free loopback port; yields its base URL."""
    async with serve(receipt_settings(), redis_client) as url:
        yield url


async def post(url: str, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> int:
    async with aiohttp.ClientSession() as session:
        all_headers = {"Content-Type": content_type, **(headers or {})}
        async with session.post(url, data=body, headers=all_headers) as response:
            await response.read()
            return response.status


def smart_envelope(*receipts: dict[str, Any], batch: bool = False) -> bytes:
    body = list(receipts) if batch else receipts[0]
    envelope = {"request_id": "r", "domain_id": "d", "callback_type": "sms", "retry": False}
    return orjson.dumps({**envelope, "body": orjson.dumps(body).decode()})


def smart_receipt(number: str = NUMBER, status: str = "DELIVRD", task_id: str = "task-1") -> dict[str, Any]:
    return {
        "task_id": task_id,
        "cust_flag": number,
        "msg_id": f"{task_id}_0",
        "send_status": status,
        "receive_time": "2024-01-01T00:00:05Z",
    }


def sms_report(number: str = NUMBER, status: str = "DELIVRD", extend: str = f"{CID}:0:sms:0") -> bytes:
    report = {"smsMsgId": "m1", "total": "1", "sequence": "1", "status": status, "source": "2"}
    return urlencode(
        {**report, "updateTime": "2024-01-01T00:00:05Z", "extend": extend, "to": "+86" + number}
    ).encode()


async def delivery(redis: aioredis.Redis, batch: int) -> dict[str, str]:
    """``<channel>:<number>`` -> its recorded status (``DELIVRD`` when delivered) in ``batch``."""
    names = await outcomes.status_names(redis, CID)
    found = {}
    for channel in ("smart", "sms", "basic"):
        raw = await outcomes.outcomes(redis, CID, batch, channel)
        for position, code in enumerate(raw):
            if code:
                status = "DELIVRD" if code == outcomes.DELIVERED else names[code]
                found[f"{channel}:{FROZEN[position]}"] = status
    return found


# batch -> its verdicts: in batch 3 NUMBER and OTHER got the smart message, in batch 0 the plain SMS
VERDICTS = {3: "ccn", 0: "nnc"}


async def journal(redis: aioredis.Redis, batch: int, stage: Stage, numbers: int) -> None:
    record = ChunkRecord(ChunkState.DONE, chunk_ref(CID, batch, stage, 0), numbers)
    await redis.hset(keys.journal(CID, batch), chunk_field(stage, 0), record.encode())  # type: ignore[misc]


@pytest.fixture(autouse=True)
async def frozen_batches(redis_client: aioredis.Redis) -> None:
    """Batches 0 and 3 of campaign CID frozen and sent as a batch run does: receipts are recorded only
    for a journaled chunk's own numbers."""
    for batch, verdicts in VERDICTS.items():
        await redis_client.hset(keys.batch(CID, batch), "n", pack(FROZEN))  # type: ignore[misc]
        await redis_client.set(keys.verdicts(CID, batch), verdicts)
        await journal(redis_client, batch, Stage.SMART, verdicts.count("c"))
        await journal(redis_client, batch, Stage.SMS, verdicts.count("n"))


# -- parsing, table-driven ---------------------------------------------------------------------------------
SMART_OK = ("smart", NUMBER, True, "DELIVRD", "delivery")
SHORT_CHAIN = {"task_id": "t", "cust_flag": NUMBER, "aim_url": "km2g.cn/a", "status": 0}
BASIC_REPORT = {
    "task_id": "t",
    "mobile": NUMBER,
    "status": 1,
    "code": "UNDELIV",
    "rtime": "2024-01-01 00:00:05",
}


@pytest.mark.parametrize(
    ("kind", "body", "expected"),
    [
        ("smart", smart_envelope(smart_receipt()), [SMART_OK]),
        ("smart", smart_envelope(smart_receipt(status="Deliverd")), [SMART_OK]),
        (
            "smart",
            smart_envelope(smart_receipt(status="UNDELIV"), smart_receipt(OTHER, "EXPIRED"), batch=True),
            [("smart", NUMBER, False, "UNDELIV", "delivery"), ("smart", OTHER, False, "EXPIRED", "delivery")],
        ),
        (
            "smart",
            orjson.dumps({"callback_type": "shortchain", "body": orjson.dumps(SHORT_CHAIN).decode()}),
            [("smart", NUMBER, True, "0", "resolve")],
        ),
        (
            "basic",
            orjson.dumps({"seq_id": "s", "reports": [BASIC_REPORT]}),
            [("basic", NUMBER, False, "UNDELIV", "delivery")],
        ),
        ("sms", sms_report(status="E200027"), [("sms", NUMBER, False, "E200027", "delivery")]),
    ],
)
def test_formats_parse_into_receipts(kind: str, body: bytes, expected: list[tuple[Any, ...]]) -> None:
    parsed = PARSERS[kind](body)
    assert [(r.channel, r.number, r.ok, r.status, r.kind) for r in parsed.receipts] == expected
    assert parsed.dropped == 0


def test_uplinks_parse_into_replies() -> None:
    mo = PARSERS["uplink"](
        urlencode({"smsMsgId": "x", "from": "+86" + NUMBER, "to": "1069", "body": "TD"}).encode()
    )
    replies = [{"task_id": "t", "mobile": NUMBER, "content": "退订"}, {"mobile": NUMBER, "content": "TD"}]
    basic = PARSERS["basic-uplink"](orjson.dumps({"seq_id": "s", "replies": replies}))
    found = [(r.number, r.text, r.task_id) for r in mo.replies + basic.replies]
    assert found == [(NUMBER, "TD", ""), (NUMBER, "退订", "t")]
    assert basic.dropped == 1  # a basic-edition reply naming no task cannot be checked


# -- recording -------------------------------------------------------------------------------------------
async def remember_task(redis: aioredis.Redis, task_id: str, ref: str) -> None:
    """What a worker's journal step writes for a send the provider named ``task_id``."""
    await redis.set(keys.task(task_id), ref)


async def test_duplicate_receipt_counts_once(service: str, redis_client: aioredis.Redis) -> None:
    await remember_task(redis_client, "task-1", SMART_REF)
    url = receipt_url(service, TOKEN, "smart")
    first = smart_envelope(smart_receipt(status="UNDELIV"))
    for _ in range(2):
        assert await post(url, first, "application/json") == 200
    # a later, different receipt for the same (campaign, channel, number) changes nothing either
    assert await post(url, smart_envelope(smart_receipt(status="DELIVRD")), "application/json") == 200

    assert await delivery(redis_client, 3) == {f"smart:{NUMBER}": "UNDELIV"}
    assert await counters(redis_client, CID) == {
        "undelivered:smart": 1,
        "undelivered_status:smart:UNDELIV": 1,
    }
    stats = await redis_client.hgetall(keys.RECEIPT_STATS)  # type: ignore[misc]
    assert (stats[b"recorded"], stats[b"duplicate"]) == (b"1", b"2")


async def test_sms_report_finds_its_batch_by_extend_and_unknown_tasks_wait_for_their_chunk(
    service: str, redis_client: aioredis.Redis
) -> None:
    form = "application/x-www-form-urlencoded"
    assert await post(receipt_url(service, TOKEN, "sms"), sms_report(), form) == 200
    unknown = smart_envelope(smart_receipt(task_id="never-sent"))
    assert await post(receipt_url(service, TOKEN, "smart"), unknown, "application/json") == 200
    assert list(await delivery(redis_client, 0)) == [f"sms:{NUMBER}"]
    assert await counters(redis_client, CID) == {"delivered:sms": 1}
    assert await redis_client.hget(keys.RECEIPT_STATS, "pending") == b"1"  # type: ignore[misc]
    assert await redis_client.llen(keys.pending_receipts("never-sent")) == 1  # type: ignore[misc]


async def drained(redis: aioredis.Redis, task_id: str) -> None:
    """Wait until the receipts service has recorded the kept receipts of a mapped task (a few seconds)."""
    for _ in range(100):
        if not await redis.exists(keys.pending_receipts(task_id)) and not await redis.hexists(  # type: ignore[misc]
            keys.RECEIPTS_READY, task_id
        ):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"kept receipts of {task_id} not recorded")


async def test_a_receipt_that_overtakes_its_send_journal_is_recorded_once_mapped_even_after_a_restart(
    redis_client: aioredis.Redis,
) -> None:
    """The smart report of a chunk whose answer was lost comes before reconciliation maps its task (a
    takeover takes seconds): kept in Redis, it survives the receipts service's restart and is recorded
    by the receipts service, through the same checks as any receipt, once the journal step maps the
    task, however late."""
    in_flight = ChunkRecord(ChunkState.IN_FLIGHT, SMART_REF, 2)  # journaled before its call, answer lost
    await redis_client.hset(keys.journal(CID, 3), chunk_field(Stage.SMART, 0), in_flight.encode())  # type: ignore[misc]
    async with serve(receipt_settings(), redis_client) as url:
        body = smart_envelope(smart_receipt(), smart_receipt(OTHER, "UNDELIV"), batch=True)
        assert await post(receipt_url(url, TOKEN, "smart"), body, "application/json") == 200
    assert await counters(redis_client, CID) == {}
    async with serve(receipt_settings(), redis_client):
        progress = Progress(redis_client, Scripts(redis_client), CID, 3)
        record = ChunkRecord(ChunkState.DONE, SMART_REF, 2, "task-1", path=ChunkPath.RECONCILED)
        assert await progress.finish(Stage.SMART, 0, record, 2, {})
        await drained(redis_client, "task-1")
    c = await counters(redis_client, CID)
    assert c.pop("first_sent_at") == c.pop("last_sent_at") > 0
    assert c == {
        "sent:smart": 2,
        "chunks:reconciled": 1,
        "delivered:smart": 1,
        "undelivered:smart": 1,
        "undelivered_status:smart:UNDELIV": 1,
    }
    assert set(await delivery(redis_client, 3)) == {f"smart:{NUMBER}", f"smart:{OTHER}"}
    assert not await redis_client.exists(keys.pending_receipts("task-1"))


# -- authentication ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path_token", "header"),
    [("wrong-token-0123456789", None), (None, None), (None, "wrong-token-0123456789"), (TOKEN[:-1], None)],
)
async def test_unauthenticated_receipts_are_rejected_and_not_recorded(
    service: str, redis_client: aioredis.Redis, path_token: str | None, header: str | None
) -> None:
    await remember_task(redis_client, "task-1", SMART_REF)
    url = receipt_url(service, path_token, "smart") if path_token else f"{service}/receipts/smart"
    headers = {TOKEN_HEADER: header} if header else None
    assert await post(url, smart_envelope(smart_receipt()), "application/json", headers) == 401
    assert await redis_client.exists(keys.delivery(CID, 3, "smart"), keys.counters(CID)) == 0
    assert await redis_client.hget(keys.RECEIPT_STATS, "unauthorized") == b"1"  # type: ignore[misc]


async def test_token_in_header_is_accepted(service: str, redis_client: aioredis.Redis) -> None:
    await remember_task(redis_client, "task-1", SMART_REF)
    url = f"{service}/receipts/smart"
    assert await post(url, smart_envelope(smart_receipt()), "application/json", {TOKEN_HEADER: TOKEN}) == 200
    assert await counters(redis_client, CID) == {"delivered:smart": 1}


def app_credentials(settings: Settings, secret: str | None = None) -> Credentials:
    """The SMS app key with its secret (or ``secret``, to forge a signature)."""
    key = settings.sms_app_key.get_secret_value()
    return Credentials(key, secret or settings.sms_app_secret.get_secret_value())


def signed_push(creds: Credentials, url: str, body: bytes, content_type: str) -> dict[str, str]:
    """The headers of an SMS push to ``url`` signed with ``creds``, as the platform sends it."""
    port = url.split(":")[2].split("/")[0]
    path = url.split(port, 1)[1]
    return sign(creds, "POST", f"127.0.0.1:{port}", path, [], {"Content-Type": content_type}, body)


async def test_sms_push_signature_is_required_when_enabled(redis_client: aioredis.Redis) -> None:
    settings = receipt_settings(sms_push_signature=True)
    async with serve(settings, redis_client) as base:
        url = receipt_url(base, TOKEN, "sms")
        body, form = sms_report(), "application/x-www-form-urlencoded"
        assert await post(url, body, form) == 401
        forged = app_credentials(settings, "not-the-app-secret")
        for creds, status in ((forged, 401), (app_credentials(settings), 200)):
            assert await post(url, body, form, signed_push(creds, url, body, form)) == status
    assert await counters(redis_client, CID) == {"delivered:sms": 1}


async def test_a_signed_push_is_accepted_once(redis_client: aioredis.Redis) -> None:
    settings = receipt_settings(sms_push_signature=True)
    async with serve(settings, redis_client) as base:
        url, form = receipt_url(base, TOKEN, "sms"), "application/x-www-form-urlencoded"
        headers = signed_push(app_credentials(settings), url, sms_report(), form)
        assert await post(url, sms_report(), form, headers) == 200
        assert await post(url, sms_report(), form, headers) == 401  # a captured copy, sent again
    assert await redis_client.hget(keys.RECEIPT_STATS, "unauthorized") == b"1"  # type: ignore[misc]


async def test_a_signed_push_with_its_body_swapped_is_refused(redis_client: aioredis.Redis) -> None:
    """A push signed over its body, held back, its body replaced and the original body's hash declared in
    an unsigned X-Sdk-Content-Sha256: nothing may be recorded."""
    settings = receipt_settings(sms_push_signature=True)
    async with serve(settings, redis_client) as base:
        url = receipt_url(base, TOKEN, "sms")
        captured = sms_report(status="DELIVRD")
        headers = signed_push(app_credentials(settings), url, captured, "application/json")  # body hashed
        headers["X-Sdk-Content-Sha256"] = hashlib.sha256(captured).hexdigest()
        assert await post(url, sms_report(status="UNDELIV"), "application/json", headers) == 401
    assert await counters(redis_client, CID) == {}


async def test_malformed_body_is_a_400(service: str, redis_client: aioredis.Redis) -> None:
    assert await post(receipt_url(service, TOKEN, "basic"), b"{not json", "application/json") == 400
    assert await post(receipt_url(service, TOKEN, "smart"), b'{"body": 5}', "application/json") == 400
    assert await redis_client.hget(keys.RECEIPT_STATS, "malformed") == b"2"  # type: ignore[misc]


def test_service_refuses_to_start_without_a_token() -> None:
    from engine.errors import ConfigError
    from engine.receipts.server import build_app

    with pytest.raises(ConfigError, match="KOODISPATCH_RECEIPTS_TOKEN"):
        build_app(load_settings(), aioredis.Redis())


# -- opt-out ---------------------------------------------------------------------------------------------
async def test_opt_out_reply_makes_the_next_campaign_drop_the_number(
    service: str, redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    index = reached.Records(30)
    index.add(np.array([int(NUMBER)], dtype=np.uint64))
    await index.write(redis_client, time.time())
    for text, sender in ((" td ", NUMBER), ("hello", "13512345600")):
        mo = urlencode({"smsMsgId": "x", "from": "+86" + sender, "to": "1069", "body": text}).encode()
        assert (
            await post(receipt_url(service, TOKEN, "uplink"), mo, "application/x-www-form-urlencoded") == 200
        )
    assert await redis_client.smembers(keys.SUPPRESSION) == {NUMBER.encode()}  # type: ignore[misc]

    csv = tmp_path / "r.csv"
    csv.write_text(f"mobile,name\n{NUMBER},a\n13512345600,b\n13512345601,c\n", encoding="utf-8")
    spec = {
        "name": "after-opt-out",
        "smart": {"template_id": "100000001", "sms_params": ["name"]},
        "sms_channel": {
            "channel_number": "10690000",
            "sms_template_id": "t",
            "signature": "华为云",
            "app_name": "a",
        },
    }
    queue = await open_queue(redis_url)
    try:
        result = await planner.submit(queue, load_settings(), CampaignSpec.model_validate(spec), csv)
    finally:
        await queue.aclose()
    assert (result.counts["suppressed"], result.counts["accepted"]) == (1, 2)


async def test_logs_hold_neither_the_token_nor_full_numbers_and_sum_up_per_interval(
    redis_client: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with serve(receipt_settings(log_interval=0.2), redis_client) as service:
        for _ in range(3):
            await post(receipt_url(service, "wrong-token-0123456789", "smart"), b"{}", "application/json")
        unknown = smart_envelope(smart_receipt(task_id="x"))
        await post(receipt_url(service, TOKEN, "smart"), unknown, "application/json")
        mo = urlencode({"from": "+86" + NUMBER, "body": "R"}).encode()
        await post(receipt_url(service, TOKEN, "uplink"), mo, "application/x-www-form-urlencoded")
        await asyncio.sleep(0.5)
    lines = [r.getMessage() for r in caplog.records if r.name == "engine.receipts.tally"]
    assert lines and "unauthorized 3" in lines[0] and "rejected:opt_out 1" in lines[0]
    assert "received 1" in lines[0]
    assert TOKEN not in caplog.text and "wrong-token" not in caplog.text and NUMBER not in caplog.text


async def test_a_request_line_aiohttp_cannot_parse_is_logged_with_the_token_masked(
    service: str, caplog: pytest.LogCaptureFixture
) -> None:
    """aiohttp logs such a line in full at ERROR (the parser's exception quotes it): the path is kept,
    the token in it is not."""
    caplog.set_level(logging.DEBUG)
    host, port = service.removeprefix("http://").rsplit(":", 1)
    path = f"/receipts/{TOKEN}/sms"
    for line in (f"POST {path} HTTP/1.1 junk", f"P\x01ST {path} HTTP/1.1", f"POST {path}\x00 HTTP/1.1"):
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(line.encode() + b"\r\nHost: x\r\n\r\n")
        assert b" 400 " in await reader.readline()
        writer.close()
        await writer.wait_closed()
    logged = [r for r in caplog.records if "Error handling request" in r.getMessage()]
    assert len(logged) == 3 and any(r.levelno == logging.ERROR for r in logged)
    assert TOKEN not in caplog.text and caplog.text.count("/receipts/***/sms") >= 3


def test_late_fallback_needs_a_fallback_channel() -> None:
    from engine.errors import ConfigError

    spec = {
        "name": "late",
        "smart": {"template_id": "100000001"},
        "sms_channel": {
            "channel_number": "1069",
            "sms_template_id": "t",
            "signature": "华为云",
            "app_name": "a",
        },
    }
    with pytest.raises(ConfigError, match=r"fallback\.after_minutes: needs policy"):
        CampaignSpec.model_validate({**spec, "fallback": {"policy": "skip", "after_minutes": 5}})
    late = CampaignSpec.model_validate({**spec, "fallback": {"policy": "sms", "after_minutes": 5}})
    assert late.fallback.after_minutes == 5
