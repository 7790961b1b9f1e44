"""Reading and steering campaigns over HTTP, with real workers sending to the simulator."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import orjson
from arq.connections import ArqRedis

from engine import api as engine_api
from engine.runtime.settings import Settings
from engine.simulator.testing import SimulatorThread
from engine.types import CampaignState
from tests.processes import engine_env, wait_for, workers
from tests.served import Api, submit
from tests.specs import make_spec


async def test_list_filters_and_pages_newest_first(api: Api, arq_redis: ArqRedis, settings: Settings,
                                                   tmp_path: Path) -> None:  # fmt: skip
    base = make_spec().model_dump(mode="json")
    other = {  # c2 uses another smart template and SMS signature, as the console's task list filters them
        "smart": {**base["smart"], "template_id": "100000002"},
        "sms_channel": {**base["sms_channel"], "signature": "另一签名"},
    }
    for k in range(5):
        await submit(
            arq_redis, settings, tmp_path, f"c{k}", 3, schedule={"start_at": "2099-01-01T08:00:00+08:00"},
            **(other if k == 2 else {}),
        )  # fmt: skip
    await engine_api.set_priority("c3", "urgent", redis=arq_redis)
    status, page, _ = await api.call("GET", "/campaigns", role="viewer", params={"limit": "2"})
    assert status == 200
    assert [row["cid"] for row in page["items"]] == ["c4", "c3"] and page["next_offset"] == 2
    _, page, _ = await api.call("GET", "/campaigns", params={"limit": "2", "offset": "4"})
    assert [row["cid"] for row in page["items"]] == ["c0"] and page["next_offset"] is None
    _, page, _ = await api.call("GET", "/campaigns", params={"priority": "urgent"})
    assert [row["cid"] for row in page["items"]] == ["c3"]
    _, page, _ = await api.call("GET", "/campaigns", params={"name": "CAMPAIGN C1", "state": "scheduled"})
    assert [row["cid"] for row in page["items"]] == ["c1"]
    _, page, _ = await api.call("GET", "/campaigns", params={"template_id": "100000002"})
    assert [(row["cid"], row["template_id"], row["signature"]) for row in page["items"]] == [
        ("c2", "100000002", "另一签名")
    ]
    _, page, _ = await api.call("GET", "/campaigns", params={"signature": base["sms_channel"]["signature"]})
    assert [row["cid"] for row in page["items"]] == ["c4", "c3", "c1", "c0"]
    _, page, _ = await api.call("GET", "/campaigns", params={"until": "2000-01-01T00:00:00Z"})
    assert page["items"] == []
    status, problem, _ = await api.call("GET", "/campaigns", params={"state": "sleeping", "limit": "0"})
    assert status == 422 and {e["loc"] for e in problem["errors"]} == {"state", "limit"}


async def test_get_status_and_report_of_one_campaign_and_404_for_an_unknown_one(
    api: Api, arq_redis: ArqRedis, settings: Settings, tmp_path: Path
) -> None:
    cid = await submit(arq_redis, settings, tmp_path, "spring", 7)
    status, detail, _ = await api.call("GET", f"/campaigns/{cid}", role="viewer")
    assert status == 200
    assert detail["campaign"]["accepted"] == 7 and detail["spec"]["name"] == "campaign spring"
    _, status_now, _ = await api.call("GET", f"/campaigns/{cid}/status", role="viewer")
    row = status_now["campaign"]
    assert (row["cid"], row["accepted"], row["state"], status_now["stages"]["sent:smart"]) == (
        cid,
        7,
        "running",
        0,
    )
    _, report, _ = await api.call("GET", f"/campaigns/{cid}/report", role="viewer")
    assert (report["campaign"], report["accepted"], report["state"]) == (cid, 7, "running")
    status, page, headers = await api.call("GET", f"/campaigns/{cid}/report.html", role="viewer")
    assert status == 200 and "<html" in page and "script-src" not in headers["Content-Security-Policy"]
    status, problem, _ = await api.call("GET", "/campaigns/autumn/status", role="viewer")
    assert status == 404 and problem["detail"] == "unknown campaign 'autumn'"


async def test_pause_resume_cancel_reach_the_workers_and_are_audited(
    api: Api, arq_redis: ArqRedis, settings: Settings, sim: SimulatorThread, redis_url: str, tmp_path: Path
) -> None:
    cid = await submit(arq_redis, settings, tmp_path, "steer", 20)
    status, moved, _ = await api.call("POST", f"/campaigns/{cid}/pause", role="operator")
    assert status == 200 and moved == {"campaign": cid, "previous": "running"}
    status, problem, _ = await api.call("PUT", f"/campaigns/{cid}/schedule", role="operator",
                                        json={"start_at": "2099-01-01T08:00:00+08:00"})  # fmt: skip
    assert status == 409 and "only a scheduled one" in problem["detail"]
    with workers(1, engine_env(redis_url, sim.url), tmp_path):
        await asyncio.sleep(1)  # paused: the worker must not send
        assert (await api.call("GET", f"/campaigns/{cid}/status"))[1]["campaign"]["sent"] == 0
        assert (await api.call("POST", f"/campaigns/{cid}/resume", role="operator"))[0] == 200
        report = await wait_for(arq_redis, cid)
    assert report.state == CampaignState.COMPLETED and report.sent["smart"] == 20
    status, problem, _ = await api.call("POST", f"/campaigns/{cid}/cancel", role="operator")
    assert status == 409
    _, entries, _ = await api.call("GET", f"/campaigns/{cid}/audit", role="viewer")
    assert [(e["action"], e["who"], e["detail"]) for e in entries] == [
        ("resume", "test operator", {"previous": "paused"}),
        ("pause", "test operator", {"previous": "running"}),
    ]  # the refused changes are not in the log
    status, text, headers = await api.call("GET", f"/campaigns/{cid}/audit", params={"format": "csv"})
    assert headers["Content-Type"].startswith("text/csv")
    assert [row["action"] for row in csv.DictReader(io.StringIO(text))] == ["resume", "pause"]


async def test_priority_and_own_rate_caps_change_live(
    api: Api, arq_redis: ArqRedis, settings: Settings, tmp_path: Path
) -> None:
    cid = await submit(arq_redis, settings, tmp_path, "caps", 3)
    status, answer, _ = await api.call("PUT", f"/campaigns/{cid}/priority", role="operator",
                                       json={"priority": "bulk"})  # fmt: skip
    assert status == 200 and answer["previous"] == "normal"
    status, answer, _ = await api.call("PUT", f"/campaigns/{cid}/rates", role="operator",
                                       json={"rates": {"smart": 50}})  # fmt: skip
    assert status == 200 and answer["caps"] == {"smart": 50.0}
    status, problem, _ = await api.call("PUT", f"/campaigns/{cid}/rates", role="operator",
                                        json={"rates": {"fax": 5}})  # fmt: skip
    assert status == 422 and problem["errors"][0]["loc"] == "rates.fax.[key]"
    _, detail, _ = await api.call("GET", f"/campaigns/{cid}")
    assert detail["caps"] == {"smart": 50.0} and detail["campaign"]["priority"] == "bulk"
    status, rates, _ = await api.call("PUT", "/rates", json={"rates": {"sms": 123}})
    assert status == 200 and rates["sms"]["rate"] == 123


async def test_live_events_follow_a_campaign_to_its_end_and_resume_with_last_event_id(
    api: Api, arq_redis: ArqRedis, settings: Settings, sim: SimulatorThread, redis_url: str, tmp_path: Path
) -> None:
    cid = await submit(arq_redis, settings, tmp_path, "watched", 30)
    seen: list[tuple[str, str, dict[str, object]]] = []
    with workers(1, engine_env(redis_url, sim.url), tmp_path):
        async with api.http.get(f"/api/v1/campaigns/{cid}/events", headers=api.headers("viewer")) as stream:
            assert stream.headers["Content-Type"] == "text/event-stream"
            async for ident, kind, data in _events(stream):
                seen.append((ident, kind, data))
                if kind == "state" and data["state"] == "completed":
                    break
    progress = [data for _, kind, data in seen if kind == "progress"]
    assert progress[0]["campaign"]["state"] == "running"  # type: ignore[index]
    assert progress[-1]["stages"]["sent:smart"] == 30  # type: ignore[index]
    assert [int(i) for i, _, _ in seen] == sorted(int(i) for i, _, _ in seen)
    headers = {**api.headers("viewer"), "Last-Event-ID": seen[-1][0]}
    async with api.http.get(f"/api/v1/campaigns/{cid}/events", headers=headers) as stream:
        async for _, kind, data in _events(stream):  # the current snapshot at once, nothing lost
            assert kind == "progress" and data["campaign"]["state"] == "completed"
            break


async def _events(stream: object):  # type: ignore[no-untyped-def]
    """(id, event, data) of each SSE event of an aiohttp response."""
    ident, kind = "", ""
    async for raw in stream.content:  # type: ignore[attr-defined]
        line = raw.decode().rstrip("\n")
        if line.startswith("id: "):
            ident = line[4:]
        elif line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            yield ident, kind, orjson.loads(line[6:])


async def test_the_list_events_show_a_new_campaign_and_its_state_changes(
    api: Api, arq_redis: ArqRedis, settings: Settings, tmp_path: Path
) -> None:
    await submit(arq_redis, settings, tmp_path, "old", 2)
    seen: list[tuple[str, dict[str, object]]] = []
    async with api.http.get("/api/v1/events", headers=api.headers("viewer")) as stream:
        async for _, kind, data in _events(stream):
            seen.append((kind, data))
            campaign = data.get("campaign")
            if kind == "progress" and isinstance(campaign, dict) and campaign["cid"] == "old":
                await submit(arq_redis, settings, tmp_path, "new", 2)  # after the first snapshot
            if kind == "progress" and isinstance(campaign, dict) and campaign["cid"] == "new":
                await engine_api.pause("new", redis=arq_redis)
            if kind == "state":
                break
    assert seen[-1][0] == "state" and seen[-1][1] | {"reason": ""} == {
        "campaign": "new",
        "state": "paused",
        "previous": "running",
        "reason": "",
    }
