"""What every operation shares: the OpenAPI document, bearer tokens and roles, problem answers, headers."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from arq.connections import ArqRedis
from openapi_spec_validator import validate

from engine.runtime.settings import Settings
from engine.service.app import SECURITY_HEADERS, serve
from engine.service.tokens import TokenStore
from tests.service.conftest import Api


async def test_the_openapi_document_is_valid_3_1_and_lists_every_operation_with_its_role(api: Api) -> None:
    status, doc, _ = await api.call("GET", "/openapi.json", role=None)
    assert status == 200
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    pause = doc["paths"]["/api/v1/campaigns/{cid}/pause"]["post"]
    assert pause["x-role"] == "operator"
    listing = doc["paths"]["/api/v1/campaigns"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"state", "priority", "name", "since", "until"}
    assert "Report" in doc["components"]["schemas"]  # the engine's own record, not a copy


@pytest.mark.parametrize(
    ("headers", "detail"),
    [({}, "Authorization: Bearer"), ({"Authorization": "Bearer kdt_nope"}, "unknown or revoked"),
     ({"Authorization": "Basic dXNlcjpwdw=="}, "Authorization: Bearer")],
)  # fmt: skip
async def test_a_request_without_a_valid_token_is_refused_401_as_a_problem(
    api: Api, headers: dict[str, str], detail: str
) -> None:
    status, body, answer = await api.call("GET", "/campaigns", role=None, headers=headers)
    assert status == 401
    assert answer["Content-Type"].startswith("application/problem+json")
    assert body["status"] == 401 and detail in body["detail"]
    assert answer["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("role", "method", "path", "allowed"),
    [("viewer", "GET", "/campaigns", True), ("viewer", "POST", "/campaigns/c1/pause", False),
     ("operator", "POST", "/campaigns/c1/pause", True), ("operator", "GET", "/tokens", False),
     ("operator", "PUT", "/rates", False), ("admin", "GET", "/tokens", True),
     ("viewer", "GET", "/audit", False)],
)  # fmt: skip
async def test_each_role_may_do_its_own_and_everything_below_it(
    api: Api, role: str, method: str, path: str, allowed: bool
) -> None:
    status, body, _ = await api.call(method, path, role=role)
    if allowed:
        assert status != 403  # 200, or 404 for the unknown campaign c1: past the role check either way
    else:
        assert status == 403 and f"the token has {role}" in body["detail"]


async def test_every_answer_carries_the_security_headers_errors_included(api: Api) -> None:
    for path, role in (("/campaigns", "viewer"), ("/nowhere", "viewer"), ("/campaigns", None)):
        _, _, headers = await api.call("GET", path, role=role)
        for name, value in SECURITY_HEADERS.items():
            assert headers[name] == value


async def test_an_unknown_path_and_a_wrong_method_are_problems_too(api: Api) -> None:
    status, body, _ = await api.call("GET", "/nowhere")
    assert (status, body["title"]) == (404, "Not Found")
    status, body, headers = await api.call("DELETE", "/campaigns")
    assert status == 405 and "GET" in headers["Allow"]


async def test_tokens_are_stored_hashed_and_a_revoked_one_stops_working_at_once(
    api: Api, arq_redis: ArqRedis
) -> None:
    status, made, _ = await api.call("POST", "/tokens", json={"name": "ci job", "role": "viewer"})
    assert status == 201 and made["token"].startswith("kdt_")
    dump = b"".join(k + v for k, v in (await arq_redis.hgetall("kd:api:tokens")).items())
    assert made["token"].encode() not in dump
    assert (await TokenStore(arq_redis).lookup(made["token"])) is not None
    headers = {"Authorization": f"Bearer {made['token']}"}
    assert (await api.call("GET", "/campaigns", role=None, headers=headers))[0] == 200
    assert (await api.call("DELETE", f"/tokens/{made['id']}"))[0] == 200
    assert (await api.call("GET", "/campaigns", role=None, headers=headers))[0] == 401
    _, log, _ = await api.call("GET", "/audit")
    assert [e["action"] for e in log][:2] == ["token-revoke", "token-create"]
    assert log[0]["who"] == "test admin" and log[0]["remote"] == "127.0.0.1"


@pytest.mark.parametrize(
    ("proxies", "forwarded", "remote"),
    [(frozenset(), "203.0.113.9", "127.0.0.1"),  # not our proxy: its header is anyone's
     (frozenset({"127.0.0.1"}), "203.0.113.9", "203.0.113.9"),
     (frozenset({"127.0.0.1", "10.0.0.2"}), "6.6.6.6, 203.0.113.9, 10.0.0.2", "203.0.113.9")],
)  # fmt: skip
async def test_the_audit_names_the_client_behind_a_trusted_proxy_only(
    arq_redis: ArqRedis,
    settings: Settings,
    tmp_path: Path,
    proxies: frozenset[str],
    forwarded: str,
    remote: str,
) -> None:
    async with serve(settings, arq_redis, upload_dir=tmp_path, proxies=proxies) as url:
        token, _ = await TokenStore(arq_redis).create("ops", "admin")
        headers = {"Authorization": f"Bearer {token}", "X-Forwarded-For": forwarded}
        async with aiohttp.ClientSession() as http:
            answer = await http.put(url + "/api/v1/rates", json={"rates": {"sms": 100}}, headers=headers)
            assert answer.status == 200
            entries = await (await http.get(url + "/api/v1/audit", headers=headers)).json()
    assert entries[0]["remote"] == remote
