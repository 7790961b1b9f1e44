"""The ledger and the admin endpoints: accepted numbers, duplicates, live config, reset."""

from __future__ import annotations

import time
from typing import Any

from engine.simulator import RunningSimulator, SimulatorThread
from engine.simulator.handlers_admin import ADMIN_HEADER
from engine.simulator.ledger import Ledger
from engine.simulator.testing import SignedClient, smart_send_body

CAPABILITY = "/v1/aim/mobile-capabilities/check"


async def admin(client: SignedClient, method: str, path: str, json: Any = None) -> tuple[int, Any]:
    headers = {ADMIN_HEADER: client.admin_token}
    url = f"{client.url}/_simulator/{path}"
    async with client.session.request(method, url, json=json, headers=headers) as response:
        return response.status, await response.json()


async def test_duplicates_across_channels_and_spellings(
    sim_client: SignedClient, simulator: RunningSimulator
) -> None:
    first = await sim_client.call(
        "POST", "/v1/aim/send-tasks", json=smart_send_body("camp:0:smart:0", ["13600000001"])
    )
    second = await sim_client.call(
        "POST", "/v1/aim/send-tasks", json=smart_send_body("camp:0:smart:1", ["+8613600000001"])
    )
    sms = {"template_id": "t", "to": ["13600000001"], "extend": "camp:0:sms:0"}
    assert (await sim_client.call("POST", "/v1/aim/sms/messages", json=sms)).status == 200
    basic = {"task_name": "camp:0:basic:0", "tpl_id": "200000001", "mobiles": ["13600000002"], "exdata": "x1"}
    assert (await sim_client.call("POST", "/v1/aim-basic/send-tasks", json=basic)).status == 200

    status, ledger = await admin(sim_client, "GET", "ledger")
    assert status == 200
    assert ledger["smart"] == {"accepted": 2, "unique": 1, "duplicates": 1}
    assert ledger["sms"] == {"accepted": 1, "unique": 1, "duplicates": 0}
    assert ledger["basic"] == {"accepted": 1, "unique": 1, "duplicates": 0}
    assert ledger["calls"]["smart"] == 2 and ledger["throttled"]["smart"] == 0

    _, detail = await admin(sim_client, "GET", "ledger?channel=smart&detail=1")
    assert set(detail) >= {"smart", "calls", "throttled"} and "sms" not in detail
    entry = detail["smart"]["numbers"]["13600000001"]
    assert entry["count"] == 2
    assert [s["task_id"] for s in entry["sends"]] == [first.body["task_id"], second.body["task_id"]]
    assert [s["task_name"] for s in entry["sends"]] == ["camp:0:smart:0", "camp:0:smart:1"]

    _, detail = await admin(sim_client, "GET", "ledger?detail=1")
    assert detail["sms"]["numbers"]["13600000001"]["sends"][0]["extend"] == "camp:0:sms:0"
    assert detail["basic"]["numbers"]["13600000002"]["sends"][0]["exdata"] == "x1"
    assert simulator.ledger.count("smart", "13600000001") == 2


async def test_rejected_and_unknown_ledger_channel(sim_client: SignedClient) -> None:
    assert (await sim_client.call("POST", CAPABILITY, json={"mobiles": []})).status == 400
    _, ledger = await admin(sim_client, "GET", "ledger")
    assert ledger["rejected"]["capability"] == 1
    status, body = await admin(sim_client, "GET", "ledger?channel=nope")
    assert (status, body["error_code"]) == (400, "KM.00000400")


async def test_config_post_changes_behaviour_live(sim_client: SignedClient) -> None:
    mobiles = [f"1360000{i:04d}" for i in range(20)]
    status, config = await admin(sim_client, "POST", "config", {"capable_share": 0.0})
    assert status == 200 and config["capable_share"] == 0.0 and config["sk"] == "***"
    reply = await sim_client.call("POST", CAPABILITY, json={"mobiles": mobiles})
    assert reply.body["supported_mobiles"] == []
    await admin(sim_client, "POST", "config", {"capable_share": 1.0})
    reply = await sim_client.call("POST", CAPABILITY, json={"mobiles": mobiles})
    assert reply.body["supported_mobiles"] == mobiles

    status, body = await admin(sim_client, "POST", "config", {"rates": {"smrt": 5}})
    assert status == 400 and "smrt" in body["error_msg"]
    _, config = await admin(sim_client, "GET", "config")
    assert config["rates"]["smart"] == 1000.0 and "smrt" not in config["rates"]


async def test_strict_templates_switch(sim_client: SignedClient) -> None:
    body = smart_send_body("t", ["13600000001"])
    body["resolve_task"]["tpl_id"] = "123123123"
    assert (await sim_client.call("POST", "/v1/aim/send-tasks", json=body)).body[
        "error_code"
    ] == "KM.00001082"
    await admin(sim_client, "POST", "config", {"strict_templates": False})
    assert (await sim_client.call("POST", "/v1/aim/send-tasks", json=body)).status == 200


async def test_reset_clears_ledger_and_tasks(sim_client: SignedClient, simulator: RunningSimulator) -> None:
    await sim_client.call("POST", "/v1/aim/send-tasks", json=smart_send_body("t", ["13600000001"]))
    status, _ = await admin(sim_client, "POST", "reset")
    assert status == 200
    assert simulator.ledger.snapshot()["smart"]["accepted"] == 0
    listed = await sim_client.call("GET", "/v1/aim/send-tasks", params={"task_name": "t"})
    assert listed.body["page_info"]["total"] == 0


async def test_send_details_report_outcomes_after_delay(
    sim_client: SignedClient, simulator: RunningSimulator
) -> None:
    simulator.update_config({"callbacks": {"delay_ms": [0, 0], "outcomes": {"UNDELIV": 1}}})
    sent = await sim_client.call(
        "POST", "/v1/aim/send-tasks", json=smart_send_body("t", ["13600000001", "13600000002"])
    )
    params = {"task_id": sent.body["task_id"], "offset": 0, "limit": 1}
    details = await sim_client.call("GET", "/v1/aim/send-details", params=params)
    assert details.body["page_info"]["total"] == 2
    [row] = details.body["send_details"]
    assert (row["send_status"], row["result_code"], row["cust_flag"]) == ("fail", "UNDELIV", "13600000001")
    second_page = await sim_client.call("GET", "/v1/aim/send-details", params={**params, "offset": 1})
    assert second_page.body["send_details"][0]["cust_flag"] == "13600000002"
    tasks = await sim_client.call("GET", "/v1/aim/send-tasks", params={"task_id": sent.body["task_id"]})
    assert tasks.body["aim_send_tasks"][0]["success_number"] == 0


def test_thread_helpers(simulator_thread: SimulatorThread) -> None:
    simulator_thread.update_config({"capable_share": 0.25})
    assert simulator_thread.config.capable_share == 0.25
    assert simulator_thread.ledger()["smart"]["accepted"] == 0
    simulator_thread.reset()
    assert simulator_thread.url.startswith("http://127.0.0.1:")


def test_counts_per_number_follow_every_call_recorded() -> None:
    """Counts are made from the recorded calls when asked for: one asked for between two calls must
    not be served stale afterwards."""
    ledger = Ledger()
    ledger.record("smart", ["13600000001", "13600000002"], {"task_id": "a"})
    assert ledger.count("smart", "13600000001") == 1
    ledger.record("smart", ["13600000001"], {"task_id": "b"})
    assert ledger.count("smart", "13600000001") == 2 and ledger.count("smart", "13600000002") == 1
    assert ledger.snapshot()["smart"] == {"accepted": 3, "unique": 2, "duplicates": 1}


def test_unique_numbers_follow_every_call_recorded() -> None:
    """Unique numbers are counted from the recorded calls when asked for, not as they arrive: a summary
    asked for between two calls must not be served stale afterwards."""
    ledger = Ledger()
    ledger.record("sms", ["13600000001", "13600000002"], {"task_id": "a"})
    assert ledger.snapshot()["sms"] == {"accepted": 2, "unique": 2, "duplicates": 0}
    ledger.record("sms", ["13600000002", "13600000003"], {"task_id": "b"})
    assert ledger.snapshot()["sms"] == {"accepted": 4, "unique": 3, "duplicates": 1}
    ledger.reset()
    assert ledger.snapshot()["sms"] == {"accepted": 0, "unique": 0, "duplicates": 0}


async def test_totals_per_campaign_count_distinct_numbers_and_time_first_and_last(
    sim_client: SignedClient,
) -> None:
    before = time.time()
    for ref, numbers in [("a:0:smart:0", ["13600000001", "13600000002"]), ("b:0:smart:0", ["13600000001"])]:
        await sim_client.call("POST", "/v1/aim/send-tasks", json=smart_send_body(ref, numbers))
    _, first = await admin(sim_client, "GET", "ledger?channel=smart&totals=1")
    again = smart_send_body("a:0:smart:1", ["+8613600000002"])
    await sim_client.call("POST", "/v1/aim/send-tasks", json=again)
    _, ledger = await admin(sim_client, "GET", "ledger?channel=smart&totals=1")
    totals = ledger["smart"]["campaign_totals"]
    assert first["smart"]["campaign_totals"]["a"]["unique"] == 2
    assert {cid: (t["accepted"], t["unique"], t["duplicates"]) for cid, t in totals.items()} == {
        "a": (3, 2, 1),  # the same number in another spelling is a duplicate of its own campaign
        "b": (1, 1, 0),  # a number two campaigns share is no duplicate of either
    }
    a = totals["a"]
    assert before <= a["first"] <= totals["b"]["first"] <= a["last"] <= time.time()


async def test_calls_of_a_campaign_say_when_each_arrived_and_was_accepted(
    sim_client: SignedClient, simulator: RunningSimulator
) -> None:
    simulator.update_config({"faults": {"latency_ms": [30, 30]}})  # arrival and acceptance apart
    before = time.time()
    for ref, numbers in [("a:0:smart:0", ["13600000001", "13600000002"]), ("b:0:smart:0", ["13600000003"])]:
        await sim_client.call("POST", "/v1/aim/send-tasks", json=smart_send_body(ref, numbers))
    await sim_client.call("POST", "/v1/aim/send-tasks", json=smart_send_body("a:0:smart:1", ["13600000004"]))
    _, ledger = await admin(sim_client, "GET", "ledger?channel=smart&calls=a")
    calls = ledger["smart"]["calls_of"]
    assert [n for _, _, n in calls] == [2, 1]  # campaign a's calls only, in order
    (arrived1, accepted1, _), (arrived2, accepted2, _) = calls
    # the injected latency lies between each call's arrival and its acceptance
    assert before <= arrived1 < accepted1 <= arrived2 < accepted2 <= time.time()
