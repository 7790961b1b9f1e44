"""Flow control and injected faults: 429 beyond the rate, 5xx, timeouts, drops, outage, latency."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import orjson
import pytest

from engine.simulator import RunningSimulator
from engine.simulator.handlers_admin import ADMIN_HEADER
from engine.simulator.testing import Reply, SignedClient, smart_send_body

CAPABILITY = "/v1/aim/mobile-capabilities/check"


def send_body(start: int, count: int = 100) -> dict[str, object]:
    return smart_send_body("t", (f"137{start + i:08d}" for i in range(count)))


async def smart_send(client: SignedClient, start: int, count: int = 100) -> Reply:
    return await client.call("POST", "/v1/aim/send-tasks", json=send_body(start, count))


async def test_burst_beyond_rate_is_throttled(sim_client: SignedClient, simulator: RunningSimulator) -> None:
    simulator.update_config({"rates": {"smart": 1000, "burst_seconds": 1.0}})
    replies = [await smart_send(sim_client, i * 100) for i in range(12)]
    assert [r.status for r in replies[:10]] == [200] * 10  # one second's worth of burst
    throttled = [r for r in replies if r.status == 429]
    assert throttled, "12 x 100 numbers at once must exceed 1000/s with a 1 s burst"
    assert throttled[0].body["error_code"] == "KM.00000429" and throttled[0].body["error_msg"]
    assert int(throttled[0].headers["Retry-After"]) >= 1
    ledger = simulator.ledger.snapshot()
    assert ledger["throttled"]["smart"] == len(throttled)
    assert ledger["smart"]["accepted"] == 100 * (12 - len(throttled))


async def test_apigw_throttle_code_and_per_channel_rates(
    sim_client: SignedClient, simulator: RunningSimulator
) -> None:
    simulator.update_config(
        {"rates": {"capability": 50, "burst_seconds": 1.0, "throttle_code": "APIGW.0308"}}
    )
    mobiles = [f"1370000{i:04d}" for i in range(40)]
    first = await sim_client.call("POST", CAPABILITY, json={"mobiles": mobiles})
    second = await sim_client.call("POST", CAPABILITY, json={"mobiles": mobiles})
    assert (first.status, second.status, second.body["error_code"]) == (200, 429, "APIGW.0308")
    assert (await smart_send(sim_client, 0)).status == 200  # other channels keep their own budget


async def test_within_rate_nothing_is_throttled(
    sim_client: SignedClient, simulator: RunningSimulator
) -> None:
    simulator.update_config({"rates": {"smart": 2000, "burst_seconds": 0.1}})
    for i in range(10):  # 100 numbers every 60 ms ~ 1667/s < 2000/s
        assert (await smart_send(sim_client, i * 100)).status == 200
        await asyncio.sleep(0.06)
    assert simulator.ledger.snapshot()["throttled"]["smart"] == 0


async def test_drop_after_accept_applies_the_call(
    sim_client: SignedClient, simulator: RunningSimulator
) -> None:
    simulator.update_config({"channel_faults": {"smart": {"drop_after_accept_share": 1.0}}})
    with pytest.raises(aiohttp.ClientError):
        await smart_send(sim_client, 0, 50)
    ledger = simulator.ledger.snapshot()
    assert ledger["smart"] == {"accepted": 50, "unique": 50, "duplicates": 0}
    assert ledger["faults"]["drop_after_accept"]["smart"] == 1
    assert len(simulator.store.smart) == 1  # reconcilable: the task exists


async def test_drop_before_processing_applies_nothing(
    sim_client: SignedClient, simulator: RunningSimulator
) -> None:
    simulator.update_config({"faults": {"drop_share": 1.0}})
    with pytest.raises(aiohttp.ClientError):
        await smart_send(sim_client, 0)
    assert simulator.ledger.snapshot()["smart"]["accepted"] == 0
    assert simulator.ledger.snapshot()["faults"]["drop"]["smart"] == 1


async def test_error_share_is_roughly_the_configured_one(
    sim_client: SignedClient, simulator: RunningSimulator
) -> None:
    simulator.update_config({"seed": 7, "rates": {"capability": None}, "faults": {"error_share": 0.3}})
    statuses = [
        (await sim_client.call("POST", CAPABILITY, json={"mobiles": ["13700000001"]})).status
        for _ in range(200)
    ]
    errors = statuses.count(500)
    assert set(statuses) == {200, 500}
    assert 35 <= errors <= 85  # 60 expected; the seed makes it repeatable
    assert simulator.ledger.snapshot()["faults"]["error"]["capability"] == errors


async def test_error_answer_shape(sim_client: SignedClient, simulator: RunningSimulator) -> None:
    simulator.update_config({"faults": {"error_share": 1.0}})
    reply = await smart_send(sim_client, 0)
    assert (reply.status, reply.body["error_code"]) == (500, "KM.00000500")
    assert reply.headers["X-Request-Id"]
    assert simulator.ledger.snapshot()["smart"]["accepted"] == 0


@pytest.mark.parametrize("applies", [True, False])
async def test_timeout(sim_client: SignedClient, simulator: RunningSimulator, applies: bool) -> None:
    faults = {"timeout_share": 1.0, "timeout_sleep_s": 0.4, "timeout_applies": applies}
    simulator.update_config({"channel_faults": {"smart": faults}})
    body = orjson.dumps(send_body(0, 10))
    url, headers = sim_client.sign("POST", "/v1/aim/send-tasks", body)
    with pytest.raises(TimeoutError):
        async with sim_client.session.post(
            url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=0.15)
        ):
            pass
    assert simulator.ledger.snapshot()["smart"]["accepted"] == (10 if applies else 0)
    await asyncio.sleep(0.4)  # let the hanging handler finish before the server shuts down


@pytest.mark.parametrize(("mode", "expect_status"), [("503", 503), ("drop", None)])
async def test_outage_switch(
    sim_client: SignedClient, simulator: RunningSimulator, mode: str, expect_status: int | None
) -> None:
    async with sim_client.session.post(
        f"{simulator.url}/_simulator/config",
        json={"faults": {"outage": True, "outage_mode": mode}},
        headers={ADMIN_HEADER: simulator.admin_token},
    ) as response:
        assert response.status == 200
    if expect_status is None:
        with pytest.raises(aiohttp.ClientError):
            await smart_send(sim_client, 0)
    else:
        reply = await smart_send(sim_client, 0)
        assert (reply.status, reply.body["error_code"]) == (503, "KM.00000503")
    simulator.update_config({"faults": {"outage": False}})
    assert (await smart_send(sim_client, 0)).status == 200
    assert simulator.ledger.snapshot()["faults"]["outage"]["smart"] == 1


async def test_latency_and_channel_override(sim_client: SignedClient, simulator: RunningSimulator) -> None:
    simulator.update_config(
        {"channel_faults": {"capability": {"latency_ms": [150, 150]}, "smart": {"error_share": 1}}}
    )
    started = time.perf_counter()
    assert (await sim_client.call("POST", CAPABILITY, json={"mobiles": ["13700000001"]})).status == 200
    assert time.perf_counter() - started >= 0.14
    assert (await smart_send(sim_client, 0)).status == 500
    simulator.update_config({"channel_faults": {"smart": None}})
    assert (await smart_send(sim_client, 0)).status == 200
