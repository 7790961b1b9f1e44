"""Our SDK-HMAC-SHA256 signer vs the official SDK signer on fixed vectors; verify() on both, on tampering."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from engine.errors import SignatureError
from engine.provider.signer import (
    DATE_FORMAT,
    Credentials,
    ReplayCache,
    canonical_query,
    query_pairs,
    sign,
    string_to_sign,
    verify,
)

AK = "FAKEAK0123456789"
SK = "FAKESKabcdefghijklmnopqrstuvwxyz0123456"
HOST = "127.0.0.1:8640"
NOW = datetime(2026, 11, 23, 17, 26, 37, tzinfo=UTC)
BASE_HEADERS = {
    "Content-Type": "application/json",
    "User-Agent": "koodispatch-test/1.0",
    "X-Project-Id": "0123456789abcdef0123456789abcdef",
}


@dataclass(frozen=True)
class Vector:
    method: str
    path: str
    query: dict[str, object]
    body: bytes
    content_type: str = "application/json"


VECTORS = {
    "get-utf8-plus-slash-space-list-bool": Vector(
        "GET",
        "/v1/aim/templates",
        {
            "tpl_name": "华为 云+a/b=c&d",
            "factory_type": ["OPPO", "HUAWEI", "XIAOMI"],
            "has_param": True,
            "is_only_status": False,
            "begin_time": "2024-01-01T00:00:00Z",
            "offset": 0,
            "limit": 100,
        },
        b"",
    ),
    "post-json-chinese": Vector(
        "POST",
        "/v1/aim/send-tasks",
        {},
        orjson.dumps({"task_name": "双十一 活动", "sms_channel": {"sms_sign": "华为云"}, "params": [1, 2]}),
    ),
    "delete-empty-body": Vector("DELETE", "/v1/aim/template/100000001", {}, b""),
    "post-form-urlencoded": Vector(
        "POST",
        "/sms/batchSendSms/v1",
        {},
        b"from=8824110605&to=%2B8613000000001%2C%2B8613000000002&templateParas=%5B%22369751%22%5D",
        "application/x-www-form-urlencoded",
    ),
}


def official(vector: Vector) -> SdkRequest:
    """Sign with huaweicloudsdkcore's Signer exactly as the SDK's clients do."""
    headers = {**BASE_HEADERS, "Content-Type": vector.content_type, "X-Sdk-Date": NOW.strftime(DATE_FORMAT)}
    request = SdkRequest(
        method=vector.method,
        schema="http",
        host=HOST,
        resource_path=vector.path,
        query_params=[(k, list(v) if isinstance(v, list) else v) for k, v in vector.query.items()],
        header_params=headers,
        body=vector.body,
    )
    return Signer(BasicCredentials(AK, SK)).sign(request)


def ours(vector: Vector) -> tuple[dict[str, str], str]:
    headers = {**BASE_HEADERS, "Content-Type": vector.content_type}
    pairs = query_pairs(vector.query)
    signed = sign(Credentials(AK, SK), vector.method, HOST, vector.path, pairs, headers, vector.body, now=NOW)
    return signed, canonical_query(pairs)


def sdk_query(request: SdkRequest) -> str:
    return str(request.uri).partition("?")[2]


@pytest.mark.parametrize("vector", VECTORS.values(), ids=VECTORS.keys())
def test_same_authorization_and_query_as_the_official_signer(vector: Vector) -> None:
    request = official(vector)
    signed, query = ours(vector)
    assert signed["Authorization"] == request.header_params["Authorization"]
    assert query == sdk_query(request)
    assert signed["X-Sdk-Date"] == request.header_params["X-Sdk-Date"]
    if vector.content_type.startswith("application/x-www-form"):
        assert signed["X-Sdk-Content-Sha256"] == "UNSIGNED-PAYLOAD"


@pytest.mark.parametrize("vector", VECTORS.values(), ids=VECTORS.keys())
def test_verify_accepts_both_signers(vector: Vector) -> None:
    request = official(vector)
    signed, query = ours(vector)
    secrets = {AK: SK}
    assert verify(secrets, vector.method, vector.path, query, signed, vector.body, now=NOW) == AK
    sdk_headers = dict(request.header_params)
    assert (
        verify(secrets, vector.method, vector.path, sdk_query(request), sdk_headers, vector.body, now=NOW)
        == AK
    )


JSON_POST = VECTORS["post-json-chinese"]
LIST_GET = VECTORS["get-utf8-plus-slash-space-list-bool"]


@pytest.mark.parametrize(
    ("vector", "change", "expected"),
    [
        (JSON_POST, {"body": JSON_POST.body.replace(b"[1,2]", b"[1,3]")}, "does not match"),
        (LIST_GET, {"query": "limit=99&offset=0"}, "does not match"),
        (LIST_GET, {"headers": {"X-Project-Id": "another-project"}}, "does not match"),
        (LIST_GET, {"path": "/v1/aim/send-tasks"}, "does not match"),
        (LIST_GET, {"method": "DELETE"}, "does not match"),
        (JSON_POST, {"secrets": {AK: SK + "x"}}, "does not match"),
        (JSON_POST, {"secrets": {"OTHERAK": SK}}, "unknown access key"),
        (JSON_POST, {"now": NOW + timedelta(minutes=16)}, "clock skew"),
        (JSON_POST, {"now": NOW - timedelta(minutes=16)}, "clock skew"),
        (JSON_POST, {"headers": {"Authorization": "Basic abc"}}, "Authorization"),
        (JSON_POST, {"drop": "X-Sdk-Date"}, "X-Sdk-Date"),
        (JSON_POST, {"drop": "X-Project-Id"}, "missing"),
    ],
    ids=[
        "body",
        "query",
        "signed-header",
        "path",
        "method",
        "wrong-secret",
        "unknown-ak",
        "stale-date",
        "future-date",
        "not-sdk-hmac",
        "no-date",
        "signed-header-dropped",
    ],
)
def test_verify_rejects_tampering(vector: Vector, change: dict[str, object], expected: str) -> None:
    signed, query = ours(vector)
    headers = {**signed, **change.get("headers", {})}  # type: ignore[dict-item]
    headers.pop(str(change.get("drop", "")), None)
    with pytest.raises(SignatureError, match=expected):
        verify(
            change.get("secrets", {AK: SK}),  # type: ignore[arg-type]
            str(change.get("method", vector.method)),
            str(change.get("path", vector.path)),
            str(change.get("query", query)),
            headers,
            change.get("body", vector.body),  # type: ignore[arg-type]
            now=change.get("now", NOW),  # type: ignore[arg-type]
        )


def test_form_body_is_not_covered_but_everything_else_is() -> None:
    """UNSIGNED-PAYLOAD: the SDK (and so the gateway) does not hash form bodies; headers still count."""
    vector = VECTORS["post-form-urlencoded"]
    signed, query = ours(vector)
    assert verify({AK: SK}, "POST", vector.path, query, signed, b"from=other", now=NOW) == AK
    with pytest.raises(SignatureError):
        verify({AK: SK}, "POST", vector.path, query, {**signed, "Content-Type": "text/plain"}, b"", now=NOW)


def test_credentials_repr_hides_the_secret() -> None:
    assert SK not in repr(Credentials(AK, SK))
    assert SK not in str(Credentials(AK, SK))


SWAPPED = JSON_POST.body.replace(b"[1,2]", b"[6,6]")
SECRETS = {AK: SK}


def test_a_declared_body_hash_is_never_taken_on_trust() -> None:
    """A captured JSON request plus an unsigned X-Sdk-Content-Sha256 holding the original body's hash
    must not let another body through; nor may a signed header whose hash the body does not have."""
    signed, _ = ours(JSON_POST)
    original = hashlib.sha256(JSON_POST.body).hexdigest()
    planted = {**signed, "X-Sdk-Content-Sha256": original}
    with pytest.raises(SignatureError, match="x-sdk-content-sha256"):
        verify(SECRETS, "POST", JSON_POST.path, "", planted, SWAPPED, now=NOW)
    declared = {**BASE_HEADERS, "X-Sdk-Content-Sha256": original}
    lying = sign(Credentials(AK, SK), "POST", HOST, JSON_POST.path, [], declared, JSON_POST.body, now=NOW)
    assert verify(SECRETS, "POST", JSON_POST.path, "", lying, JSON_POST.body, now=NOW) == AK
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRETS, "POST", JSON_POST.path, "", lying, SWAPPED, now=NOW)


def test_signed_headers_must_include_host() -> None:
    """A signature that leaves Host out would hold for the same request sent to another host."""
    date = NOW.strftime(DATE_FORMAT)
    headers = {**BASE_HEADERS, "X-Sdk-Date": date, "Host": "elsewhere:443"}
    signed = ["content-type", "x-project-id", "x-sdk-date"]
    sts = string_to_sign("POST", JSON_POST.path, [], headers, signed, JSON_POST.body, date)
    signature = hmac.new(SK.encode(), sts.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (
        f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders={';'.join(signed)}, Signature={signature}"
    )
    with pytest.raises(SignatureError, match="SignedHeaders must include host"):
        verify(SECRETS, "POST", JSON_POST.path, "", headers, JSON_POST.body, now=NOW)


def test_a_signature_is_accepted_once_within_its_window() -> None:
    signed, _ = ours(JSON_POST)
    replays = ReplayCache()
    assert verify(SECRETS, "POST", JSON_POST.path, "", signed, JSON_POST.body, now=NOW, replays=replays) == AK
    for later in (NOW, NOW + timedelta(minutes=15)):  # up to the last moment the copy is fresh
        with pytest.raises(SignatureError, match="already used"):
            verify(SECRETS, "POST", JSON_POST.path, "", signed, JSON_POST.body, now=later, replays=replays)
    assert len(replays) == 1
    form = VECTORS["post-form-urlencoded"]  # past the window the entry is forgotten: memory stays bounded
    other, query = ours(form)
    past, longer = NOW + timedelta(minutes=16), timedelta(minutes=20)
    verify(SECRETS, "POST", form.path, query, other, form.body, now=past, max_skew=longer, replays=replays)
    assert len(replays) == 1


def test_an_idempotent_request_may_come_again() -> None:
    """aiohttp resends a GET (PUT, DELETE ...) verbatim when a kept-alive connection drops before the answer,
    and a second copy of one changes nothing: the replay cache leaves them alone."""
    signed, query = ours(LIST_GET)
    replays = ReplayCache()
    for _ in range(2):
        assert verify(SECRETS, "GET", LIST_GET.path, query, signed, b"", now=NOW, replays=replays) == AK
    assert len(replays) == 0


def test_form_posts_signed_alike_are_distinct_requests_but_each_is_accepted_once() -> None:
    """UNSIGNED-PAYLOAD: two form posts in one second with the same headers share a signature (the SDK's
    SMS sends, the platform's pushes); each is new, an exact copy of either is not."""
    vector = VECTORS["post-form-urlencoded"]
    signed, query = ours(vector)
    replays = ReplayCache()
    for body in (vector.body, b"from=other"):
        assert verify(SECRETS, "POST", vector.path, query, signed, body, now=NOW, replays=replays) == AK
    with pytest.raises(SignatureError, match="already used"):
        verify(SECRETS, "POST", vector.path, query, signed, b"from=other", now=NOW, replays=replays)
