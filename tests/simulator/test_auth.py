"""Gateway authentication of the simulator: signed requests pass, altered ones get 401 APIGW.0301."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from engine.simulator import RunningSimulator
from engine.simulator.testing import Reply, SignedClient, smart_send_body

CAPABILITY = "/v1/aim/mobile-capabilities/check"
BODY = orjson.dumps({"mobiles": ["13000000001"]})


def assert_auth_failure(reply: Reply) -> None:
    assert reply.status == 401
    assert reply.body["error_code"] == "APIGW.0301" and reply.body["error_msg"]
    assert reply.headers["X-Request-Id"]


async def test_signed_request_passes(sim_client: SignedClient) -> None:
    url, headers = sim_client.sign("POST", CAPABILITY, BODY)
    reply = await sim_client.send("POST", url, headers, BODY)
    assert reply.status == 200 and reply.headers["X-Request-Id"]


async def test_unsigned_request_is_rejected(sim_client: SignedClient) -> None:
    url, headers = sim_client.sign("POST", CAPABILITY, BODY)
    del headers["Authorization"]
    assert_auth_failure(await sim_client.send("POST", url, headers, BODY))


async def test_tampered_body_is_rejected(sim_client: SignedClient, simulator: RunningSimulator) -> None:
    url, headers = sim_client.sign(
        "POST", "/v1/aim/sms/messages", orjson.dumps({"template_id": "t", "to": ["1"]})
    )
    tampered = orjson.dumps({"template_id": "t", "to": ["13000000001"]})
    assert_auth_failure(await sim_client.send("POST", url, headers, tampered))
    assert simulator.ledger.snapshot()["sms"]["accepted"] == 0


async def test_tampered_query_is_rejected(sim_client: SignedClient) -> None:
    url, headers = sim_client.sign("GET", "/v1/aim/send-tasks", params={"task_name": "a"})
    assert_auth_failure(await sim_client.send("GET", url.with_query(task_name="b"), headers))


@pytest.mark.parametrize(("skew_minutes", "status"), [(-16, 401), (16, 401), (-14, 200)])
async def test_clock_skew_limit(sim_client: SignedClient, skew_minutes: int, status: int) -> None:
    when = datetime.now(UTC) + timedelta(minutes=skew_minutes)
    url, headers = sim_client.sign("POST", CAPABILITY, BODY, now=when)
    reply = await sim_client.send("POST", url, headers, BODY)
    assert reply.status == status
    if status == 401:
        assert_auth_failure(reply)


async def test_project_id_must_match(sim_client: SignedClient) -> None:
    url, headers = sim_client.sign("POST", CAPABILITY, BODY)
    headers["X-Project-Id"] = "0" * 32  # also breaks the signature: either check must refuse it
    assert_auth_failure(await sim_client.send("POST", url, headers, BODY))


async def test_sms_api_needs_the_app_key(sim_client: SignedClient, simulator: RunningSimulator) -> None:
    form = b"from=10690000&to=%2B8613000000001&templateId=t"
    ak_signed = SignedClient(sim_client.url, simulator.config, sim_client.session)
    url, headers = ak_signed.sign("POST", CAPABILITY, form, content_type="application/x-www-form-urlencoded")
    sms_url = url.with_path("/sms/batchSendSms/v1")  # AK/SK credentials on a Message&SMS path
    assert_auth_failure(await sim_client.send("POST", sms_url, headers, form))
    ok = await sim_client.call(
        "POST", "/sms/batchSendSms/v1", form={"from": "1069", "to": "+8613000000001", "templateId": "t"}
    )
    assert ok.status == 200 and ok.body["result"][0]["status"] == "000000"


async def test_admin_routes_need_no_signature_and_unknown_paths_are_404(sim_client: SignedClient) -> None:
    async with sim_client.session.get(f"{sim_client.url}/_simulator/health") as response:
        assert response.status == 200
    async with sim_client.session.get(f"{sim_client.url}/v1/aim/nothing-here") as response:
        body = await response.json()
        assert (response.status, body["error_code"]) == (404, "APIGW.0101")
        assert response.headers["X-Request-Id"]


SEND = "/v1/aim/send-tasks"


async def test_a_captured_request_sent_again_is_rejected(
    sim_client: SignedClient, simulator: RunningSimulator
) -> None:
    body = orjson.dumps(smart_send_body("cap:0:smart:0", ["13600000001"]))
    url, headers = sim_client.sign("POST", SEND, body)
    assert (await sim_client.send("POST", url, headers, body)).status == 200
    assert_auth_failure(await sim_client.send("POST", url, headers, body))
    assert simulator.ledger.snapshot()["smart"]["accepted"] == 1


async def test_a_swapped_body_with_an_unsigned_body_hash_is_rejected(
    sim_client: SignedClient, simulator: RunningSimulator
) -> None:
    """A captured (and held back) send, its body replaced, the original's hash declared in an unsigned
    X-Sdk-Content-Sha256: the signature must not cover the new body."""
    captured = orjson.dumps(smart_send_body("cap:0:smart:0", ["13600000001"]))
    url, headers = sim_client.sign("POST", SEND, captured)
    swapped = orjson.dumps(smart_send_body("cap:0:smart:0", ["13600000002"]))
    headers["X-Sdk-Content-Sha256"] = hashlib.sha256(captured).hexdigest()
    assert_auth_failure(await sim_client.send("POST", url, headers, swapped))
    assert simulator.ledger.snapshot()["smart"]["accepted"] == 0
