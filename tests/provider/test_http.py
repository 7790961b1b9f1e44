"""ProviderHttp against tiny real loopback servers: what goes on the wire, and every failure's error class."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from engine.errors import (
    Ambiguous,
    AuthFailed,
    BadRequest,
    ConfigError,
    ProviderError,
    ProviderUnavailable,
    Throttled,
    TooManyNumbers,
)
from engine.provider.http import ProviderHttp
from engine.provider.signer import Credentials, verify
from engine.runtime.settings import Settings, load_settings

CREDS = Credentials("TESTAK", "test-secret-never-logged")
PROJECT = "0123456789abcdef0123456789abcdef"


@dataclass
class Seen:
    """What the server received, byte for byte."""

    method: str = ""
    raw_path: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


Reply = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
def settings() -> Settings:
    return load_settings(provider={"connect_timeout": 1.0, "read_timeout": 0.3, "max_connections": 4})


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[ProviderHttp]:
    async with ProviderHttp(settings) as client:
        yield client


@pytest.fixture
async def server() -> AsyncIterator[Callable[[Reply], Awaitable[tuple[str, Seen]]]]:
    """Start a loopback server answering every request with ``reply``; returns (base_url, Seen)."""
    servers: list[TestServer] = []

    async def start(reply: Reply) -> tuple[str, Seen]:
        seen = Seen()

        async def handle(request: web.Request) -> web.StreamResponse:
            seen.method, seen.raw_path = request.method, request.raw_path
            seen.headers, seen.body = dict(request.headers), await request.read()
            return await reply(request)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        test_server = TestServer(app, host="127.0.0.1")
        await test_server.start_server()
        servers.append(test_server)
        return f"http://127.0.0.1:{test_server.port}", seen

    yield start
    for test_server in servers:
        await test_server.close()


def answer(
    status: int, body: object = None, headers: dict[str, str] | None = None, text: str | None = None
) -> Reply:
    async def reply(_: web.Request) -> web.Response:
        if text is not None:
            return web.Response(status=status, text=text, headers=headers)
        return web.Response(
            status=status, body=orjson.dumps(body), headers=headers, content_type="application/json"
        )

    return reply


# -- request shaping -----------------------------------------------------------------------------------------
async def test_get_sends_the_signed_canonical_query_and_headers(http: ProviderHttp, server: Any) -> None:
    base, seen = await server(answer(200, {"ok": True}, {"X-Request-Id": "r1"}))
    query = {"tpl_name": "华为 云+a/b", "factory_type": ["OPPO", "HUAWEI"], "has_param": True, "offset": 0}
    assert await http.call(CREDS, base, "GET", "/v1/aim/templates", query=query, project_id=PROJECT) == {
        "ok": True
    }
    path, _, raw_query = seen.raw_path.partition("?")
    assert path == "/v1/aim/templates"
    assert raw_query == (
        "factory_type=HUAWEI&factory_type=OPPO&has_param=true&offset=0&tpl_name=%E5%8D%8E%E4%B8%BA%20%E4%BA%91%2Ba%2Fb"
    )
    assert seen.headers["Host"] == base.removeprefix("http://")
    assert seen.headers["X-Project-Id"] == PROJECT
    signed = seen.headers["Authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    assert signed == [
        "content-type",
        "host",
        "user-agent",
        "x-koodispatch-nonce",
        "x-project-id",
        "x-sdk-date",
    ]
    assert (
        verify({CREDS.access: CREDS.secret}, "GET", path, raw_query, seen.headers, seen.body) == CREDS.access
    )


async def test_the_same_call_twice_is_signed_twice_differently(http: ProviderHttp, server: Any) -> None:
    """A retry (or the same query again) within one X-Sdk-Date second must not look like a replay."""
    base, seen = await server(answer(200, {"ok": True}))
    signatures = []
    for _ in range(2):
        await http.call(
            CREDS, base, "GET", "/v1/aim/send-tasks", query={"task_name": "a"}, project_id=PROJECT
        )
        signatures.append(seen.headers["Authorization"].rsplit("Signature=", 1)[1])
    assert signatures[0] != signatures[1]


async def test_post_json_body_is_what_was_signed(http: ProviderHttp, server: Any) -> None:
    base, seen = await server(answer(200, {"task_id": "t1"}))
    body = {"task_name": "双十一", "params": [{"cust_flag": "13000000001", "sms_params": ["x"]}]}
    await http.call(CREDS, base, "POST", "/v1/aim/send-tasks", json=body, project_id=PROJECT)
    assert orjson.loads(seen.body) == body
    assert seen.headers["Content-Type"] == "application/json"
    assert verify({CREDS.access: CREDS.secret}, "POST", "/v1/aim/send-tasks", "", seen.headers, seen.body)


async def test_form_is_unsigned_payload_without_project(http: ProviderHttp, server: Any) -> None:
    base, seen = await server(answer(200, {"code": "000000"}))
    form = {"from": "8824110605", "to": "+8613000000001,+8613000000002", "templateParas": '["1"]'}
    await http.call(CREDS, base, "POST", "/sms/batchSendSms/v1", form=form)
    assert seen.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert seen.headers["X-Sdk-Content-Sha256"] == "UNSIGNED-PAYLOAD"
    assert "X-Project-Id" not in seen.headers
    assert seen.body == b"from=8824110605&to=%2B8613000000001%2C%2B8613000000002&templateParas=%5B%221%22%5D"
    assert verify({CREDS.access: CREDS.secret}, "POST", "/sms/batchSendSms/v1", "", seen.headers, seen.body)


async def test_base_url_path_prefix_is_signed_and_sent(http: ProviderHttp, server: Any) -> None:
    base, seen = await server(answer(200, {}))
    await http.call(CREDS, base + "/gateway/", "DELETE", "/v1/aim/template/100000001")
    assert seen.raw_path == "/gateway/v1/aim/template/100000001"
    assert seen.body == b""
    assert verify({CREDS.access: CREDS.secret}, "DELETE", seen.raw_path, "", seen.headers, b"")


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "127.0.0.1:8640", "http://127.0.0.1/?a=1"])
async def test_malformed_base_url_is_a_config_error(http: ProviderHttp, url: str) -> None:
    with pytest.raises(ConfigError):
        await http.call(CREDS, url, "GET", "/v1/aim/callbacks")


async def test_call_on_a_closed_client_is_refused(settings: Settings) -> None:
    http = await ProviderHttp.open(settings)
    await http.close()
    await http.close()
    with pytest.raises(RuntimeError, match="not open"):
        await http.call(CREDS, "http://127.0.0.1:9", "GET", "/")


# -- answers -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One answer of the server and the error it must become."""

    status: int
    body: object
    error: type[ProviderError]
    provider_code: str = ""
    retry_after: float | None = None
    headers: dict[str, str] = field(default_factory=dict)
    retry_at_in: float | None = None  # send Retry-After as an HTTP date this many seconds ahead

    def reply(self) -> Reply:
        headers = dict(self.headers)
        if self.retry_at_in is not None:
            when = datetime.now(UTC) + timedelta(seconds=self.retry_at_in)
            headers["Retry-After"] = format_datetime(when, usegmt=True)
        if isinstance(self.body, str):
            return answer(self.status, headers=headers, text=self.body)
        return answer(self.status, self.body, headers)


def km(code: str, message: str = "x") -> dict[str, str]:
    return {"error_code": code, "error_msg": message}


ANSWERS = {
    "429-retry-after-seconds": Case(
        429, km("KM.00000429"), Throttled, "KM.00000429", 2.5, {"Retry-After": "2.5"}
    ),
    "429-retry-after-date": Case(429, km("APIGW.0308"), Throttled, "APIGW.0308", 30.0, retry_at_in=30),
    "429-no-retry-after": Case(429, "slow down", Throttled),
    "429-retry-after-inf": Case(429, "slow down", Throttled, headers={"Retry-After": "inf"}),  # unreadable
    "429-retry-after-nan": Case(429, "slow down", Throttled, headers={"Retry-After": "nan"}),
    "500": Case(500, km("KM.00000500"), ProviderUnavailable, "KM.00000500"),
    "503-text": Case(503, "upstream down", ProviderUnavailable),
    "504-km-code": Case(504, km("KM.90016301"), ProviderUnavailable, "KM.90016301"),
    "401-nested-apigw": Case(
        401, {"error": {"code": "APIGW.0301", "message": "bad"}}, AuthFailed, "APIGW.0301"
    ),
    "403-text": Case(403, "forbidden", AuthFailed),
    "400-too-many-numbers": Case(400, km("KM.90016301"), TooManyNumbers, "KM.90016301"),
    "400-too-many-links": Case(400, km("KM.90016403"), TooManyNumbers, "KM.90016403"),
    "400-too-many-short-codes": Case(400, km("KM.90016416"), TooManyNumbers, "KM.90016416"),
    "400-flow-control-code": Case(400, km("APIGW.0308"), Throttled, "APIGW.0308"),
    "400-template": Case(400, km("KM.00001082"), BadRequest, "KM.00001082"),
    "400-status-message": Case(400, {"status": "KM.00000400", "message": "bad"}, BadRequest, "KM.00000400"),
    "400-code-description": Case(400, {"code": "E000510", "description": "bad"}, BadRequest, "E000510"),
    "404-text": Case(404, "no route", BadRequest),
    "302-not-followed": Case(302, "", BadRequest, headers={"Location": "http://127.0.0.1:9/elsewhere"}),
    "200-not-json": Case(200, "<html>ok</html>", Ambiguous),
    "200-json-array": Case(200, [1, 2], Ambiguous),
}


@pytest.mark.parametrize("case", ANSWERS.values(), ids=ANSWERS.keys())
async def test_answer_maps_to_error(http: ProviderHttp, server: Any, case: Case) -> None:
    base, _ = await server(case.reply())
    with pytest.raises(ProviderError) as caught:
        await http.call(CREDS, base, "POST", "/v1/aim/send-tasks", json={"task_name": "t"})
    assert type(caught.value) is case.error
    assert (caught.value.code, caught.value.provider_code) == (case.status, case.provider_code)
    if case.retry_after is None:
        assert caught.value.retry_after is None
    else:
        assert caught.value.retry_after == pytest.approx(case.retry_after, abs=2)


async def test_request_id_and_masked_message(http: ProviderHttp, server: Any) -> None:
    body = {"error_code": "KM.00001084", "error_msg": "mobile 13000000001 and +8613900000002 are bad"}
    base, _ = await server(answer(400, body, {"X-Request-Id": "req-123"}))
    with pytest.raises(BadRequest) as caught:
        await http.call(CREDS, base, "GET", "/v1/aim/send-details")
    assert caught.value.request_id == "req-123"
    assert "13000000001" not in str(caught.value) and "13900000002" not in str(caught.value)
    assert "130****0001" in str(caught.value)


# -- no answer -----------------------------------------------------------------------------------------------
async def test_connection_refused_is_unavailable(http: ProviderHttp) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ProviderUnavailable, match="could not connect"):
        await http.call(CREDS, f"http://127.0.0.1:{port}", "POST", "/v1/aim/send-tasks", json={})


async def test_read_timeout_after_sending_is_ambiguous(http: ProviderHttp, server: Any) -> None:
    release = asyncio.Event()

    async def stall(_: web.Request) -> web.Response:
        await release.wait()
        return web.Response()

    base, seen = await server(stall)
    with pytest.raises(Ambiguous, match="read timeout"):
        await http.call(CREDS, base, "POST", "/v1/aim/send-tasks", json={"task_name": "t"})
    release.set()
    assert seen.body  # the server had the whole request


@pytest.mark.parametrize("read_first", [True, False], ids=["after-reading", "before-reading"])
async def test_dropped_connection_is_ambiguous(http: ProviderHttp, read_first: bool) -> None:
    """Once the request is on the wire the client cannot know whether it was processed."""

    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if read_first:
            await reader.readuntil(b"\r\n\r\n")
        writer.close()
        await writer.wait_closed()

    raw = await asyncio.start_server(drop, "127.0.0.1", 0)
    port = raw.sockets[0].getsockname()[1]
    try:
        with pytest.raises(Ambiguous, match="connection lost"):
            await http.call(CREDS, f"http://127.0.0.1:{port}", "POST", "/v1/aim/send-tasks", json={"a": 1})
    finally:
        raw.close()
        await raw.wait_closed()
