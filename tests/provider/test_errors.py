"""Provider answers mapped to the error tree: faults, timeouts, credentials and 400 codes (real simulator)."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import pytest

from engine.errors import (
    Ambiguous,
    AuthFailed,
    BadRequest,
    ProviderError,
    ProviderUnavailable,
    Throttled,
    TooManyNumbers,
)
from engine.provider import (
    KooMessageClient,
    ProviderHttp,
    SmsApiClient,
    limits,
)
from engine.provider.signer import Credentials
from engine.simulator import RunningSimulator
from engine.simulator.templates import DEMO_SMART_TPL_ID
from tests.provider.clients import CHANNEL, NUMBERS, Clients, settings_for, smart_params


# -- error mapping -------------------------------------------------------------------------------------------
def smart_send(clients: Clients) -> Awaitable[object]:
    return clients.km.create_aim_send_task(
        "c1:0:smart:9", CHANNEL, DEMO_SMART_TPL_ID, smart_params(NUMBERS[:10])
    )


@dataclass(frozen=True)
class Fault:
    """A simulator config patch, the error our client must raise and whether the numbers landed."""

    patch: dict[str, Any]
    error: type[ProviderError]
    provider_code: str
    landed: int  # numbers in the smart ledger afterwards
    retry_after: bool = False


FAULTS = {
    "429-flow-control": Fault(
        {"rates": {"smart": 1, "burst_seconds": 1}}, Throttled, limits.KM_FLOW_CONTROL, 0, True
    ),
    "429-apigw": Fault(
        {"rates": {"smart": 1, "burst_seconds": 1, "throttle_code": limits.APIGW_THROTTLED}},
        Throttled,
        limits.APIGW_THROTTLED,
        0,
        True,
    ),
    "500-error": Fault(
        {"channel_faults": {"smart": {"error_share": 1.0}}}, ProviderUnavailable, limits.KM_INTERNAL, 0
    ),
    "503-outage": Fault(
        {"channel_faults": {"smart": {"outage": True}}}, ProviderUnavailable, limits.KM_UNAVAILABLE, 0
    ),
    "drop-before-processing": Fault({"channel_faults": {"smart": {"drop_share": 1.0}}}, Ambiguous, "", 0),
    "outage-drop": Fault(
        {"channel_faults": {"smart": {"outage": True, "outage_mode": "drop"}}}, Ambiguous, "", 0
    ),
    "drop-after-accept": Fault(
        {"channel_faults": {"smart": {"drop_after_accept_share": 1.0}}}, Ambiguous, "", 10
    ),
    "timeout-after-accept": Fault(
        {"channel_faults": {"smart": {"timeout_share": 1.0, "timeout_sleep_s": 0.8}}}, Ambiguous, "", 10
    ),
    "timeout-not-applied": Fault(
        {
            "channel_faults": {
                "smart": {"timeout_share": 1.0, "timeout_sleep_s": 0.8, "timeout_applies": False}
            }
        },
        Ambiguous,
        "",
        0,
    ),
}


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
async def test_faults_map_to_errors(clients: Clients, simulator: RunningSimulator, fault: Fault) -> None:
    simulator.update_config(fault.patch)
    if "rates" in fault.patch:  # the first call spends the burst, the next one is over the rate
        await clients.km.create_aim_send_task("warm", CHANNEL, DEMO_SMART_TPL_ID, smart_params(NUMBERS[:1]))
        simulator.ledger.reset()
    with pytest.raises(ProviderError) as caught:
        await smart_send(clients)
    assert type(caught.value) is fault.error
    assert caught.value.provider_code == fault.provider_code
    assert (caught.value.retry_after or 0) >= (1 if fault.retry_after else 0)
    assert simulator.ledger.channels["smart"].summary()["accepted"] == fault.landed
    # an ambiguous answer is settled by the task_name reference: found exactly when the numbers landed
    found = await clients.km.list_aim_send_tasks(task_name="c1:0:smart:9")
    assert found.total == (1 if fault.landed else 0)


async def test_504_within_the_read_timeout_is_unavailable(simulator: RunningSimulator) -> None:
    simulator.update_config(
        {
            "channel_faults": {
                "smart": {"timeout_share": 1.0, "timeout_sleep_s": 0.1, "timeout_applies": False}
            }
        }
    )
    settings = settings_for(simulator.url, simulator.config, read_timeout=2.0)
    async with ProviderHttp(settings) as http:
        with pytest.raises(ProviderUnavailable) as caught:
            await smart_send(
                Clients(
                    http,
                    KooMessageClient.from_settings(http, settings),
                    SmsApiClient.from_settings(http, settings),
                    settings,
                )
            )
    assert caught.value.code == 504 and caught.value.provider_code == limits.KM_GATEWAY_TIMEOUT


@pytest.mark.parametrize("which", ["koomessage-secret", "project", "sms-secret"])
async def test_wrong_credentials_are_auth_failed(
    clients: Clients, simulator: RunningSimulator, which: str
) -> None:
    cfg = simulator.config
    with pytest.raises(AuthFailed) as caught:
        if which == "sms-secret":
            bad_sms = SmsApiClient(clients.http, simulator.url, Credentials(cfg.sms_app_key, "wrong"))
            await bad_sms.batch_send_sms("8824110605", ["13800000001"], "tpl1", [])
        else:
            creds = Credentials(cfg.ak, "wrong" if which == "koomessage-secret" else cfg.sk)
            project = "other" if which == "project" else cfg.project_id
            await KooMessageClient(clients.http, simulator.url, creds, project).check_capability(NUMBERS[:1])
    assert (caught.value.code, caught.value.provider_code) == (401, limits.APIGW_AUTH)
    assert "wrong" not in str(caught.value)
    assert sum(simulator.ledger.calls.values()) == 1


@pytest.mark.parametrize(
    ("path", "body", "error", "provider_code"),
    [
        (
            "/v1/aim/mobile-capabilities/check",
            {"mobiles": [*NUMBERS, "13900000000"]},
            TooManyNumbers,
            limits.KM_TOO_MANY_NUMBERS,
        ),
        (
            "/v1/aim/resolve-tasks",
            {
                "tpl_id": DEMO_SMART_TPL_ID,
                "sms_signs": ["a"],
                "resolving_times": 1,
                "aim_code_type": "individual",
                "expiration_time": 1,
                "params": [{"cust_flag": str(i)} for i in range(101)],
            },
            TooManyNumbers,
            limits.KM_TOO_MANY_LINKS,
        ),
        (
            "/v1/aim/mobile-capabilities/check",
            {"mobiles": ["13800000000"], "tpl_id": "999999999"},
            BadRequest,
            limits.KM_TEMPLATE_NOT_FOUND,
        ),
        ("/v1/aim/send-tasks", {"task_name": "x"}, BadRequest, limits.KM_EMPTY_INPUT),
    ],
    ids=["101-mobiles", "101-links", "unknown-template", "no-sms-channel"],
)
async def test_provider_400_codes(
    clients: Clients,
    simulator: RunningSimulator,
    path: str,
    body: object,
    error: type[ProviderError],
    provider_code: str,
) -> None:
    """What the server says when a request breaks a limit (sent raw: our clients refuse to build these)."""
    cfg = simulator.config
    with pytest.raises(error) as caught:
        await clients.http.call(
            Credentials(cfg.ak, cfg.sk), simulator.url, "POST", path, json=body, project_id=cfg.project_id
        )
    assert (caught.value.code, caught.value.provider_code) == (400, provider_code)


async def test_unknown_template_through_the_client_is_bad_request(clients: Clients) -> None:
    with pytest.raises(BadRequest) as caught:
        await clients.km.create_aim_send_task("c1:0:smart:2", CHANNEL, "999999999", smart_params(NUMBERS[:1]))
    assert caught.value.provider_code == limits.KM_TEMPLATE_NOT_FOUND
