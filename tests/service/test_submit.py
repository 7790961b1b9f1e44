"""Creating campaigns over HTTP: multipart upload, the CLI's validation as problems, idempotency, plan,
preflight; the provider's catalog for pickers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from arq.connections import ArqRedis

from engine.runtime.settings import Settings
from engine.service.app import serve
from engine.service.tokens import TokenStore
from engine.store import keys
from tests.commands import SPEC
from tests.processes import spec
from tests.service.conftest import Api
from tests.specs import numbers


def spec_json(**changes: Any) -> dict[str, Any]:
    return spec("sms") | {"name": "uploaded"} | changes


def csv_of(count: int, start: int = 13800000000) -> bytes:
    return ("mobile,name\n" + "".join(f"{n},Li\n" for n in numbers(True, count, start))).encode()


def form(body: dict[str, Any] | str, recipients: bytes, name: str = "list.csv") -> aiohttp.FormData:
    data = aiohttp.FormData()
    text = body if isinstance(body, str) else orjson.dumps(body).decode()
    data.add_field("spec", text, content_type="application/json")
    data.add_field("recipients", recipients, filename=name, content_type="text/csv")
    return data


async def test_an_upload_becomes_a_campaign_once_per_idempotency_key(api: Api, arq_redis: ArqRedis) -> None:
    key = {"Idempotency-Key": "order-42"}
    status, made, _ = await api.call("POST", "/campaigns", role="operator", headers=key,
                                     data=form(spec_json(), csv_of(12)))  # fmt: skip
    assert status == 201, made
    assert made["created"] is True and made["counts"]["accepted"] == 12
    status, again, _ = await api.call("POST", "/campaigns", role="operator", headers=key,
                                      data=form(spec_json(), csv_of(12)))  # fmt: skip
    assert (status, again["cid"], again["created"]) == (200, made["cid"], False)
    status, problem, _ = await api.call("POST", "/campaigns", role="operator", headers=key,
                                        data=form(spec_json(), csv_of(13)))  # fmt: skip
    assert status == 409 and "Idempotency-Key" in problem["detail"]
    assert await arq_redis.zcard(keys.CAMPAIGNS) == 1
    _, entries, _ = await api.call("GET", f"/campaigns/{made['cid']}/audit")
    assert [(e["action"], e["who"]) for e in entries] == [("create", "test operator")]


async def test_a_toml_spec_is_accepted_as_the_cli_reads_it(api: Api) -> None:
    status, made, _ = await api.call(
        "POST", "/campaigns", role="operator", data=form(SPEC, csv_of(3), "list.csv")
    )
    assert status == 201, made
    _, detail, _ = await api.call("GET", f"/campaigns/{made['cid']}")
    assert detail["spec"]["name"] == "cli-test"


@pytest.mark.parametrize(
    ("body", "recipients", "name", "status", "detail"),
    [(spec_json(smart={"template_id": "12"}), csv_of(2), "a.csv", 422, "smart.template_id"),
     (spec_json(recipients={"suppression_file": "/etc/passwd"}), csv_of(2), "a.csv", 422,
      "recipients.suppression_file: a path on this server"),
     ("{not json", csv_of(2), "a.csv", 422, "spec: neither a JSON object nor TOML"),
     (spec_json(), b"phone,name\n13800000000,Li\n", "a.csv", 422, "a.csv: column 'mobile' not found"),
     (spec_json(), csv_of(2), "a.exe", 422, "recipients: a .csv, .txt, .xlsx file")],
)  # fmt: skip
async def test_bad_input_is_a_problem_naming_the_field_and_writes_nothing(
    api: Api, arq_redis: ArqRedis, body: Any, recipients: bytes, name: str, status: int, detail: str
) -> None:
    answer, problem, headers = await api.call("POST", "/campaigns", role="operator",
                                              data=form(body, recipients, name))  # fmt: skip
    assert answer == status and headers["Content-Type"].startswith("application/problem+json")
    assert detail in problem["detail"]
    assert "13800000000" not in problem["detail"]
    assert await arq_redis.zcard(keys.CAMPAIGNS) == 0


async def test_a_recipient_file_over_the_cap_is_refused_413(
    arq_redis: ArqRedis, settings: Settings, tmp_path: Path
) -> None:
    async with serve(settings, arq_redis, upload_dir=tmp_path, max_upload_bytes=1000) as url:
        token, _ = await TokenStore(arq_redis).create("t", "operator")
        async with aiohttp.ClientSession() as http:
            answer = await http.post(url + "/api/v1/campaigns", data=form(spec_json(), csv_of(200)),
                                     headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            assert answer.status == 413
    assert not any(tmp_path.iterdir()) and await arq_redis.zcard(keys.CAMPAIGNS) == 0  # noqa: ASYNC240


async def test_plan_forecasts_without_submitting_and_preflight_checks_a_spec(
    api: Api, arq_redis: ArqRedis
) -> None:
    status, forecast, _ = await api.call("POST", "/plan", role="operator", data=form(spec_json(), csv_of(40)))
    assert status == 200, forecast
    assert forecast["counts"]["accepted"] == 40 and forecast["errors"] == []
    assert await arq_redis.zcard(keys.CAMPAIGNS) == 0
    status, found, _ = await api.call("POST", "/preflight", role="operator", json=spec_json())
    assert status == 200 and isinstance(found["warnings"], list)
    status, problem, _ = await api.call("POST", "/preflight", role="operator",
                                        json=spec_json(smart={"template_id": "999999999"}))  # fmt: skip
    assert status == 422 and "999999999" in problem["detail"]


async def test_the_catalog_lists_the_accounts_templates_and_ports(api: Api) -> None:
    status, catalog, _ = await api.call("GET", "/provider/catalog", role="viewer")
    assert status == 200
    assert [t["tpl_id"] for t in catalog["smart_templates"]] == ["100000001"]
    assert catalog["ports"][0]["port"] == "10690000"


async def test_the_suppression_list_over_http(api: Api, arq_redis: ArqRedis) -> None:
    status, added, _ = await api.call(
        "POST", "/suppression", json={"numbers": ["13800000001", "+86 138 0000 0002"]}
    )
    assert status == 200 and added == {"changed": 2}
    status, problem, _ = await api.call("POST", "/suppression", json={"numbers": ["13800000003", "hello"]})
    assert status == 422 and "'hello' is not a mobile number" in problem["detail"]
    assert not await arq_redis.sismember(keys.SUPPRESSION, "13800000003")
    _, found, _ = await api.call("POST", "/suppression/search", json={"number": "8613800000002"})
    assert found == {"suppressed": True}
    data = aiohttp.FormData()
    data.add_field("file", b"13800000004\n13800000001\n", filename="optout.txt")
    assert (await api.call("POST", "/suppression/import", data=data))[1] == {"changed": 1}
    _, page, _ = await api.call("GET", "/suppression")
    assert page == {"numbers": ["13800000001", "13800000002", "13800000004"], "next_cursor": None}
    status, text, headers = await api.call("GET", "/suppression/export")
    assert sorted(text.split()) == page["numbers"] and "attachment" in headers["Content-Disposition"]
    assert (await api.call("POST", "/suppression/remove", json={"numbers": ["13800000004"]}))[1] == {
        "changed": 1
    }
    assert (await api.call("GET", "/suppression", role="operator"))[0] == 403
    _, entries, _ = await api.call("GET", "/audit")
    assert [e["action"] for e in entries] == [
        "unsuppress",
        "suppression-export",
        "suppression-import",
        "suppress",
    ]
    assert "13800000001" not in str(entries)  # numbers masked in the log
