"""The simulator's admin endpoints answer only with its admin token: a page in a browser on the same machine
(a cross-site ``text/plain`` post with a foreign Origin) can neither change the config nor read the ledger."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from engine.simulator import RunningSimulator
from engine.simulator.handlers_admin import ADMIN_HEADER
from engine.simulator.testing import SignedClient, smart_send_body

NUMBER = "13600000001"
HIJACK = orjson.dumps({"sk": "attacker-chosen", "callbacks": {"allow_remote": True}})
FOREIGN = {"Origin": "https://evil.example", "Content-Type": "text/plain"}


async def admin(
    client: SignedClient, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> Any:
    async with client.session.request(
        method, f"{client.url}/_simulator/{path}", data=body or None, headers=headers
    ) as response:
        return response.status, await response.read()


@pytest.mark.parametrize(
    "headers",
    [FOREIGN, {**FOREIGN, ADMIN_HEADER: "a-guess"}, {"Content-Type": "application/json"}],
    ids=["cross-site", "wrong-token", "no-token"],
)
async def test_config_cannot_be_changed_without_the_token(
    sim_client: SignedClient, simulator: RunningSimulator, headers: dict[str, str]
) -> None:
    status, _ = await admin(sim_client, "POST", "config", headers, HIJACK)
    assert status == 401
    assert simulator.config.sk != "attacker-chosen" and not simulator.config.callbacks.allow_remote


async def test_a_body_that_is_not_json_is_refused_even_with_the_token(
    sim_client: SignedClient, simulator: RunningSimulator
) -> None:
    headers = {**FOREIGN, ADMIN_HEADER: simulator.admin_token}
    assert (await admin(sim_client, "POST", "config", headers, HIJACK))[0] == 415
    assert not simulator.config.callbacks.allow_remote
    json_headers = {"Content-Type": "application/json", ADMIN_HEADER: simulator.admin_token}
    assert (await admin(sim_client, "POST", "config", json_headers, HIJACK))[0] == 200
    assert simulator.config.callbacks.allow_remote


async def test_the_ledger_and_reset_need_the_token(
    sim_client: SignedClient, simulator: RunningSimulator
) -> None:
    await sim_client.call("POST", "/v1/aim/send-tasks", json=smart_send_body("a:0:smart:0", [NUMBER]))
    for method, path in (("GET", "ledger?detail=1"), ("GET", "config"), ("POST", "reset")):
        status, body = await admin(sim_client, method, path, {})
        assert status == 401 and NUMBER.encode() not in body
    assert simulator.ledger.snapshot()["smart"]["accepted"] == 1
    status, body = await admin(sim_client, "GET", "ledger?detail=1", {ADMIN_HEADER: simulator.admin_token})
    assert status == 200 and NUMBER.encode() in body
    assert (await admin(sim_client, "GET", "health", {}))[0] == 200  # readiness stays open
