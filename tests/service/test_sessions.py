"""The console's session: a token exchanged for an HttpOnly, SameSite=Strict cookie, changes only with the
session's CSRF token, and the session ends with its token."""

from __future__ import annotations

import aiohttp
from arq.connections import ArqRedis

from tests.service.conftest import Api


async def test_a_session_cookie_reads_and_changes_only_with_its_csrf_token(
    api: Api, arq_redis: ArqRedis
) -> None:
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for the 127.0.0.1 test server
    async with aiohttp.ClientSession(base_url=api.url, cookie_jar=jar) as browser:
        async with browser.post("/api/v1/session", json={"token": api.tokens["operator"]}) as answer:
            assert answer.status == 200
            session = await answer.json()
            cookie = answer.headers["Set-Cookie"]
        assert session["role"] == "operator" and session["csrf"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert api.tokens["operator"] not in cookie
        async with browser.get("/api/v1/campaigns") as answer:
            assert answer.status == 200
        async with browser.post("/api/v1/campaigns/c1/pause") as answer:
            assert answer.status == 403 and "X-CSRF-Token" in (await answer.json())["detail"]
        headers = {"X-CSRF-Token": session["csrf"]}
        async with browser.post("/api/v1/campaigns/c1/pause", headers=headers) as answer:
            assert answer.status == 404  # past authentication and role: the campaign is unknown
        _, token_list, _ = await api.call("GET", "/tokens")
        operator = next(t for t in token_list if t["name"] == "test operator")
        assert (await api.call("DELETE", f"/tokens/{operator['id']}"))[0] == 200
        async with browser.get("/api/v1/campaigns") as answer:
            assert answer.status == 401  # revoking the token ended its session


async def test_logout_ends_the_session_and_a_wrong_token_opens_none(api: Api) -> None:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base_url=api.url, cookie_jar=jar) as browser:
        async with browser.post("/api/v1/session", json={"token": "kdt_wrong"}) as answer:
            assert answer.status == 401
        async with browser.post("/api/v1/session", json={"token": api.tokens["viewer"]}) as answer:
            csrf = (await answer.json())["csrf"]
        async with browser.delete("/api/v1/session", headers={"X-CSRF-Token": csrf}) as answer:
            assert answer.status == 204
        async with browser.get("/api/v1/campaigns") as answer:
            assert answer.status == 401
    _, entries, _ = await api.call("GET", "/audit")
    assert [(e["action"], e["who"]) for e in entries] == [("login", "test viewer")]
