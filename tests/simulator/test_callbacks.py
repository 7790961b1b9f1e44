"""Status reports and uplinks posted by the simulator, received by a small aiohttp server in the test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson
import pytest
from aiohttp import web

from engine.simulator import RunningSimulator
from engine.simulator.testing import SignedClient, smart_send_body

SHARES = {"DELIVRD": 0.5, "UNDELIV": 0.5}


@dataclass
class Receiver:
    """Collects every POST as (path, decoded body)."""

    url: str
    posts: list[tuple[str, Any]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    refuse: int = 0  # the next POSTs answered 503 (and not collected)

    def on(self, path: str) -> list[Any]:
        return [body for p, body in self.posts if p == path]

    async def wait_for(self, done: Callable[[], bool]) -> None:
        """Poll until ``done()``; fail after 5 s."""
        async with asyncio.timeout(5.0):
            while not done():
                self.arrived.clear()
                await self.arrived.wait()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    app = web.Application()
    runner = web.AppRunner(app, access_log=None)
    target = Receiver("")

    async def collect(request: web.Request) -> web.Response:
        raw = await request.read()
        if target.refuse > 0:
            target.refuse -= 1
            return web.Response(status=503)
        form = request.content_type == "application/x-www-form-urlencoded"
        target.posts.append((request.path, dict(parse_qsl(raw.decode())) if form else orjson.loads(raw)))
        target.arrived.set()
        return web.Response(text="ok")

    app.router.add_post("/{tail:.*}", collect)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    target.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield target
    await runner.cleanup()


def smart_body(count: int) -> dict[str, Any]:
    return smart_send_body("cb", (f"135{i:08d}" for i in range(count)))


async def test_smart_single_and_batch_receipts(
    sim_client: SignedClient, simulator: RunningSimulator, receiver: Receiver
) -> None:
    callbacks = {
        "smart_batch_url": f"{receiver.url}/batch",
        "delay_ms": [0, 0],
        "outcomes": SHARES,
        "batch_size": 10,
    }
    simulator.update_config({"seed": 3, "callbacks": callbacks})
    registered = await sim_client.call(
        "POST", "/v1/aim/callbacks", json={"callback_url": f"{receiver.url}/single", "url_type": 0}
    )
    assert registered.status == 200
    sent = await sim_client.call("POST", "/v1/aim/send-tasks", json=smart_body(100))
    await receiver.wait_for(lambda: len(receiver.on("/single")) == 100 and len(receiver.on("/batch")) == 10)

    envelope = receiver.on("/single")[0]
    assert set(envelope) == {"request_id", "domain_id", "callback_type", "body", "retry"}
    assert (envelope["callback_type"], envelope["retry"]) == ("sms", False)
    receipts = [orjson.loads(e["body"]) for e in receiver.on("/single")]
    assert set(receipts[0]) == {
        "task_id", "cust_flag", "msg_id", "tpl_id", "sms_sign", "aim_code", "aim_url",
        "send_time", "receive_time", "send_status", "send_status_desc",
    }  # fmt: skip
    assert {r["task_id"] for r in receipts} == {sent.body["task_id"]}
    assert sorted(r["cust_flag"] for r in receipts) == [f"135{i:08d}" for i in range(100)]
    delivered = sum(r["send_status"] == "DELIVRD" for r in receipts)
    assert 30 <= delivered <= 70  # 50 % configured
    batches = [orjson.loads(e["body"]) for e in receiver.on("/batch")]
    assert all(isinstance(b, list) and len(b) == 10 for b in batches)
    assert sorted(r["msg_id"] for b in batches for r in b) == sorted(r["msg_id"] for r in receipts)


async def test_basic_reports_and_uplinks(
    sim_client: SignedClient, simulator: RunningSimulator, receiver: Receiver
) -> None:
    simulator.update_config(
        {"callbacks": {"delay_ms": [0, 0], "outcomes": SHARES, "uplink_share": 1.0, "batch_size": 50}}
    )
    for url_type, path in ((0, "/status"), (1, "/reply")):
        body = {"url_type": url_type, "callback_url": receiver.url + path, "remark": path}
        assert (await sim_client.call("POST", "/v1/aim-basic/callbacks", json=body)).status == 200
    mobiles = [f"135{i:08d}" for i in range(120)]
    body = {"task_name": "v", "tpl_id": "200000001", "mobiles": mobiles, "exdata": "x"}
    sent = await sim_client.call("POST", "/v1/aim-basic/send-tasks", json=body)
    task_id = sent.body["data"]["task_id"]

    def reports() -> list[dict[str, Any]]:
        return [r for post in receiver.on("/status") for r in post["reports"]]

    await receiver.wait_for(lambda: len(reports()) == 120)
    assert all(set(p) == {"seq_id", "reports"} and len(p["reports"]) <= 50 for p in receiver.on("/status"))
    rows = reports()
    assert set(rows[0]) == {"task_id", "mobile", "status", "code", "desc", "stime", "rtime"}
    assert all((r["status"] == 0) == (r["code"] == "DELIVRD") and r["task_id"] == task_id for r in rows)
    delivered = {r["mobile"] for r in rows if r["code"] == "DELIVRD"}
    assert 36 <= len(delivered) <= 84
    await receiver.wait_for(lambda: sum(len(p["replies"]) for p in receiver.on("/reply")) == len(delivered))
    assert {r["mobile"] for p in receiver.on("/reply") for r in p["replies"]} == delivered


async def test_sms_status_reports_and_uplinks(
    sim_client: SignedClient, simulator: RunningSimulator, receiver: Receiver
) -> None:
    callbacks = {
        "sms_url": f"{receiver.url}/km-sms",
        "sms_uplink_url": f"{receiver.url}/mo",
        "uplink_share": 1.0,
    }
    simulator.update_config({"callbacks": {**callbacks, "delay_ms": [0, 0], "outcomes": {"DELIVRD": 1}}})
    form = {"from": "1069", "to": "+8613500000001,+8613500000002", "templateId": "t", "extend": "ref-9"}
    form["statusCallback"] = f"{receiver.url}/status"
    sent = await sim_client.call("POST", "/sms/batchSendSms/v1", form=form)
    koo = await sim_client.call(
        "POST", "/v1/aim/sms/messages", json={"template_id": "t", "to": ["13500000003"]}
    )
    await receiver.wait_for(
        lambda: (
            (len(receiver.on("/status")), len(receiver.on("/km-sms")), len(receiver.on("/mo"))) == (2, 1, 3)
        )
    )

    reports = {r["smsMsgId"]: r for r in receiver.on("/status")}
    assert set(reports) == {r["smsMsgId"] for r in sent.body["result"]}
    report = next(iter(reports.values()))
    assert {
        "smsMsgId",
        "total",
        "sequence",
        "status",
        "statusDesc",
        "source",
        "updateTime",
        "orgCode",
    } <= set(report)
    assert (report["status"], report["extend"], report["to"][:3]) == ("DELIVRD", "ref-9", "+86")
    [km_report] = receiver.on("/km-sms")
    assert km_report["smsMsgId"] == koo.body["result"][0]["msg_id"] and "extend" not in km_report
    uplink = receiver.on("/mo")[0]
    assert set(uplink) == {"smsMsgId", "from", "to", "body", "createTime"} and uplink["body"] == "TD"


async def test_callback_failures_never_reach_the_api(
    sim_client: SignedClient, simulator: RunningSimulator
) -> None:
    dead, remote = "http://127.0.0.1:9/gone", "http://203.0.113.7/never-contacted"
    callbacks = {"smart_url": dead, "smart_batch_url": remote, "delay_ms": [0, 0], "retry_delay_s": 0.01}
    simulator.update_config({"callbacks": callbacks})
    reply = await sim_client.call("POST", "/v1/aim/send-tasks", json=smart_body(3))
    assert reply.status == 200
    for _ in range(250):
        counts = simulator.ledger.snapshot()["callbacks"]
        if counts.get("failed") == 3 and counts.get("skipped_remote") == 1:
            break
        await asyncio.sleep(0.02)
    assert (counts.get("failed"), counts.get("skipped_remote"), counts.get("posted", 0)) == (3, 1, 0)
    assert counts.get("retried") == 3 * 3  # each report posted again three times before it counts failed


async def test_a_report_the_receiver_refused_is_posted_again_marked_as_a_retry(
    sim_client: SignedClient, simulator: RunningSimulator, receiver: Receiver
) -> None:
    callbacks = {"smart_url": receiver.url + "/s", "delay_ms": [0, 0], "retry_delay_s": 0.01}
    simulator.update_config({"callbacks": callbacks})
    receiver.refuse = 2  # the first two attempts fail: the third goes through
    reply = await sim_client.call("POST", "/v1/aim/send-tasks", json=smart_body(1))
    assert reply.status == 200
    await receiver.wait_for(lambda: len(receiver.on("/s")) == 1)
    [report] = receiver.on("/s")
    assert report["retry"] is True
    for _ in range(250):  # counted once the simulator read the answer
        counts = simulator.ledger.snapshot()["callbacks"]
        if counts.get("posted"):
            break
        await asyncio.sleep(0.02)
    assert (counts.get("posted"), counts.get("retried"), counts.get("failed", 0)) == (1, 2, 0)
