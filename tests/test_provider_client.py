"""The provider clients against the real simulator: round trips, signatures, error mapping, guards, logs."""

from __future__ import annotations

import asyncio
import logging
import re
import types
from collections.abc import AsyncIterator, Awaitable, Callable
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
    LinkParam,
    ProviderHttp,
    Reason,
    SmartParam,
    SmsApiClient,
    SmsChannel,
    limits,
    reason,
)
from engine.provider.bodies import smart_body
from engine.provider.signer import Credentials
from engine.runtime.settings import Settings, load_settings
from engine.simulator import RunningSimulator, SimulatorThread, is_capable
from engine.simulator.templates import DEMO_BASIC_TPL_ID, DEMO_SMART_TPL_ID

CHANNEL = SmsChannel("10690000", "sms_tpl_1", "华为云", "app1")
NUMBERS = [f"1380000{i:04d}" for i in range(100)]
FULL_NUMBER = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def settings_for(url: str, sim_config: Any, **provider: object) -> Settings:
    """Settings pointing both APIs at the simulator, with its credentials."""
    return load_settings(
        provider={
            "koomessage_url": url,
            "smsapi_url": url,
            "connect_timeout": 1.0,
            "read_timeout": 0.5,
            **provider,
        },
        ak=sim_config.ak,
        sk=sim_config.sk,
        project_id=sim_config.project_id,
        sms_app_key=sim_config.sms_app_key,
        sms_app_secret=sim_config.sms_app_secret,
    )


@dataclass
class Clients:
    http: ProviderHttp
    km: KooMessageClient
    sms: SmsApiClient
    settings: Settings


@pytest.fixture
async def clients(simulator: RunningSimulator) -> AsyncIterator[Clients]:
    settings = settings_for(simulator.url, simulator.config)
    async with ProviderHttp(settings) as http:
        yield Clients(
            http,
            KooMessageClient.from_settings(http, settings),
            SmsApiClient.from_settings(http, settings),
            settings,
        )


def smart_params(numbers: list[str]) -> list[SmartParam]:
    return [SmartParam(n, ("20240101",), {"name": "张三"}) for n in numbers]


# -- round trips ---------------------------------------------------------------------------------------------
async def test_capability_partitions_the_numbers_as_the_simulator_decides(
    clients: Clients, simulator: RunningSimulator
) -> None:
    result = await clients.km.check_capability(NUMBERS, DEMO_SMART_TPL_ID)
    share = simulator.config.capable_share
    assert result.supported == tuple(n for n in NUMBERS if is_capable(n, share))
    assert result.unsupported == tuple(n for n in NUMBERS if not is_capable(n, share))


async def test_smart_send_reports_per_number_failures_and_reconciles(
    clients: Clients, simulator: RunningSimulator
) -> None:
    good = NUMBERS[:3]
    result = await clients.km.create_aim_send_task(
        "c1:0:smart:0", CHANNEL, DEMO_SMART_TPL_ID, smart_params([*good, "12345"])
    )
    assert result.task_id
    assert result.accepted == tuple(good)
    assert result.failed == {"12345": limits.KM_INVALID_MOBILE}
    assert reason(result.failed["12345"]) is Reason.INVALID_NUMBER
    assert simulator.ledger.channels["smart"].summary()["accepted"] == 3

    tasks = await clients.km.list_aim_send_tasks(task_name="c1:0:smart:0")
    assert [t.task_id for t in tasks.items] == [result.task_id]
    assert tasks.items[0].tpl_id == DEMO_SMART_TPL_ID and tasks.items[0].failed == {
        "12345": limits.KM_INVALID_MOBILE
    }
    details = await clients.km.list_aim_send_details(task_id=result.task_id, offset=0, limit=10)
    assert sorted(d.cust_flag for d in details.items) == good
    assert details.total == 3


async def test_smart_send_where_every_number_fails_is_failed_not_an_error(clients: Clients) -> None:
    result = await clients.km.create_aim_send_task(
        "c1:0:smart:1", CHANNEL, DEMO_SMART_TPL_ID, smart_params(["1", "2"])
    )
    assert result.accepted == ()
    assert result.failed == {"1": limits.KM_INVALID_MOBILE, "2": limits.KM_INVALID_MOBILE}


async def test_resolve_task_links_and_queries(clients: Clients) -> None:
    params = [LinkParam("13800000001", {"name": "a"}), LinkParam("13800000002", {"name": "b"})]
    made = await clients.km.create_resolve_task(DEMO_SMART_TPL_ID, ["华为云"], params)
    assert [link.cust_flag for link in made.links] == ["13800000001", "13800000002"]
    assert all(link.aim_url and link.aim_code and link.expire_date for link in made.links)
    assert made.failed == {}
    tasks = await clients.km.list_resolve_tasks(task_id=made.task_id)
    assert tasks.items[0].sms_signs == ("华为云",) and tasks.items[0].aim_code_type == "individual"
    details = await clients.km.list_resolve_details(task_id=made.task_id)
    assert {d.aim_url for d in details.items} == {link.aim_url for link in made.links}


async def test_koomessage_sms_statuses(clients: Clients, simulator: RunningSimulator) -> None:
    to = ["13800000001", "13800000002", "13800000001", "12345678901"]
    result = await clients.km.send_sms("sms_tpl_1", to, ["1234"], channel_num="10690000", extend="c1:0:sms:0")
    assert result.task_id
    assert result.accepted == ("13800000001", "13800000002")  # the duplicate copy does not undo the first
    assert result.failed == {"12345678901": limits.SMS_INVALID_NUMBER}
    diff = await clients.km.send_diff_sms(
        [(["13800000003"], "tpl_a", ["x"]), (["13800000004", "13800000004"], "tpl_b", [])],
        channel_num="10690000",
    )
    assert diff.accepted == ("13800000003", "13800000004") and diff.failed == {}
    assert simulator.ledger.channels["sms"].summary() == {"accepted": 4, "unique": 4, "duplicates": 0}


async def test_smsapi_sends_plus86_and_answers_in_11_digits(
    clients: Clients, simulator: RunningSimulator
) -> None:
    result = await clients.sms.batch_send_sms(
        "8824110605", ["13800000001", "13800000002", "12345678901"], "tpl1", ["369751"], extend="c1:0:sms:1"
    )
    assert result.task_id == ""
    assert result.accepted == ("13800000001", "13800000002")
    assert result.failed == {"12345678901": limits.SMS_INVALID_NUMBER}
    diff = await clients.sms.batch_send_diff_sms(
        "8824110605",
        [(["13800000003"], "tpl1", ["a"]), (["13800000004"], "tpl2", ["b", "c"])],
        signature="华为云",
    )
    assert diff.accepted == ("13800000003", "13800000004")
    detail = simulator.ledger.snapshot(detail=True, channel="sms")["sms"]["numbers"]
    assert set(detail) == {"13800000001", "13800000002", "13800000003", "13800000004"}
    assert detail["13800000001"]["sends"][0]["extend"] == "c1:0:sms:1"


async def test_basic_edition_send_and_list(clients: Clients, simulator: RunningSimulator) -> None:
    group = await clients.km.create_vms_send_task(
        "c1:0:basic:0", DEMO_BASIC_TPL_ID, mobiles=NUMBERS[:50], params=["hello"], exdata="c1:0:basic:0"
    )
    assert group.task_id and group.accepted == tuple(NUMBERS[:50]) and group.failed == {}
    individual = await clients.km.create_vms_send_task(
        "c1:0:basic:1",
        DEMO_BASIC_TPL_ID,
        individual=[([NUMBERS[50]], ["a"]), ([NUMBERS[51], NUMBERS[52]], ["b"])],
    )
    assert individual.accepted == tuple(NUMBERS[50:53])
    tasks = await clients.km.list_vms_send_tasks(task_name="c1:0:basic:0")
    assert [(t.task_id, t.total_count, t.exdata) for t in tasks.items] == [
        (group.task_id, 50, "c1:0:basic:0")
    ]
    assert simulator.ledger.channels["basic"].summary()["accepted"] == 53


async def test_templates_callbacks_ports_reports(clients: Clients) -> None:
    smart = await clients.km.list_aim_templates(DEMO_SMART_TPL_ID)
    assert smart.total == 1 and smart.items[0].params == ("name",) and "HUAWEI" in smart.items[0].factories
    basic = await clients.km.list_vms_templates()
    assert [(t.tpl_id, t.audit_state, t.variables) for t in basic.items] == [
        (DEMO_BASIC_TPL_ID, 0, ("#p_1#",))
    ]

    added = await clients.km.add_callback("http://127.0.0.1:9/receipts", 2)
    assert added.id and added.url_type == 2
    assert [c.callback_url for c in await clients.km.list_callbacks()] == ["http://127.0.0.1:9/receipts"]
    await clients.km.add_vms_callback("http://127.0.0.1:9/vms", 0, remark="demo")
    assert [(c.callback_url, c.remark) for c in await clients.km.list_vms_callbacks()] == [
        ("http://127.0.0.1:9/vms", "demo")
    ]

    ports = await clients.km.list_port_infos()
    assert ports.items[0].port == "10690000" and ports.items[0].signs == ("华为云",)
    reports = await clients.km.list_aim_send_reports("2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z")
    assert reports.total == len(reports.items)


# -- the official SDK's request passes the same check --------------------------------------------------------
async def test_official_sdk_and_our_client_pass_the_same_signature_check(
    simulator_thread: SimulatorThread,
) -> None:
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkkoomessage.v1 import (
        CheckMobileCapabilityRequest,
        CheckMobileCapabilityRequestBody,
    )
    from huaweicloudsdkkoomessage.v1 import KooMessageClient as SdkKooMessage
    from huaweicloudsdksmsapi.v1 import BatchSendSmsRequest, BatchSendSmsRequestBody, SMSApiClient
    from huaweicloudsdksmsapi.v1.smsapi_credentials import SMSApiCredentials

    cfg, url = simulator_thread.config, simulator_thread.url
    numbers = NUMBERS[:20]

    def sdk_calls() -> tuple[list[str], list[str]]:
        km = SdkKooMessage.new_builder().with_credentials(BasicCredentials(cfg.ak, cfg.sk, cfg.project_id))
        km = km.with_endpoints([url]).build()
        body = CheckMobileCapabilityRequestBody(mobiles=numbers, tpl_id=DEMO_SMART_TPL_ID)
        answer = km.check_mobile_capability(CheckMobileCapabilityRequest(body=body))
        sms = SMSApiClient.new_builder().with_credentials(
            SMSApiCredentials(cfg.sms_app_key, cfg.sms_app_secret)
        )
        sms = sms.with_endpoints([url]).build()
        form = BatchSendSmsRequestBody(
            _from="8824110605", to="+8613800000001", template_id="tpl1", template_paras='["1"]'
        )
        sent = sms.batch_send_sms(BatchSendSmsRequest(body=form))
        return answer.supported_mobiles, [r.status for r in sent.result]

    sdk_supported, sdk_statuses = await asyncio.to_thread(sdk_calls)
    settings = settings_for(url, cfg)
    async with ProviderHttp(settings) as http:
        ours = await KooMessageClient.from_settings(http, settings).check_capability(
            numbers, DEMO_SMART_TPL_ID
        )
        sent = await SmsApiClient.from_settings(http, settings).batch_send_sms(
            "8824110605", ["13800000001"], "tpl1", ["1"]
        )
    assert list(ours.supported) == sdk_supported
    assert sdk_statuses == [limits.SMS_OK] and sent.accepted == ("13800000001",)
    ledger = simulator_thread.ledger()
    assert ledger["sms"]["accepted"] == 2 and not any(ledger["rejected"].values())


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


# -- client-side guards --------------------------------------------------------------------------------------
Call = Callable[[Clients], Awaitable[object]]
GUARDS: dict[str, tuple[Call, type[ProviderError], str]] = {
    "capability-101": (
        lambda c: c.km.check_capability([*NUMBERS, "13900000000"]),
        TooManyNumbers,
        limits.KM_TOO_MANY_NUMBERS,
    ),
    "capability-empty": (lambda c: c.km.check_capability([]), BadRequest, limits.KM_PHONE_LIST_EMPTY),
    "capability-tpl-id": (
        lambda c: c.km.check_capability(NUMBERS[:1], "12345"),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "smart-101": (
        lambda c: c.km.create_aim_send_task(
            "t", CHANNEL, DEMO_SMART_TPL_ID, smart_params([*NUMBERS, "13900000000"])
        ),
        TooManyNumbers,
        limits.KM_TOO_MANY_LINKS,
    ),
    "smart-20-sms-params": (
        lambda c: c.km.create_aim_send_task(
            "t", CHANNEL, DEMO_SMART_TPL_ID, [SmartParam(NUMBERS[0], ("a",) * 20)]
        ),
        BadRequest,
        limits.KM_SMS_PARAM_COUNT,
    ),
    "smart-forbidden-char": (
        lambda c: c.km.create_aim_send_task(
            "t", CHANNEL, DEMO_SMART_TPL_ID, [SmartParam(NUMBERS[0], ("a{b",))]
        ),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "smart-param-21-chars": (
        lambda c: c.km.create_aim_send_task(
            "t", CHANNEL, DEMO_SMART_TPL_ID, [SmartParam(NUMBERS[0], ("x" * 21,))]
        ),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "smart-tpl-id": (
        lambda c: c.km.create_aim_send_task("t", CHANNEL, "10000000a", smart_params(NUMBERS[:1])),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "smart-8-days": (
        lambda c: c.km.create_aim_send_task("t", CHANNEL, DEMO_SMART_TPL_ID, smart_params(NUMBERS[:1]), 8),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "smart-channel-22": (
        lambda c: c.km.create_aim_send_task(
            "t", SmsChannel("1" * 22, "s", "华为云", "a"), DEMO_SMART_TPL_ID, smart_params(NUMBERS[:1])
        ),
        BadRequest,
        limits.KM_CHANNEL_NUMBER_LENGTH,
    ),
    "sms-501": (
        lambda c: c.km.send_sms("tpl", [NUMBERS[0]] * 501, []),
        TooManyNumbers,
        limits.KM_TOO_MANY_NUMBERS,
    ),
    "sms-21-params": (
        lambda c: c.km.send_sms("tpl", NUMBERS[:1], ["p"] * 21),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "sms-extend-129": (
        lambda c: c.km.send_sms("tpl", NUMBERS[:1], [], extend="e" * 129),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "sms-extend-braces": (
        lambda c: c.km.send_sms("tpl", NUMBERS[:1], [], extend="{x}"),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "sms-empty-number": (
        lambda c: c.km.send_sms("tpl", ["", "13800000000"], []),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "sms-letters-in-number": (
        lambda c: c.km.send_sms("tpl", ["1380000000a"], []),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "sms-diff-501-in-all": (
        lambda c: c.km.send_diff_sms(
            [(NUMBERS * 3, "a", []), (NUMBERS * 2 + NUMBERS[:1], "b", [])], channel_num="1"
        ),
        TooManyNumbers,
        limits.KM_TOO_MANY_NUMBERS,
    ),
    "smsapi-501": (
        lambda c: c.sms.batch_send_sms("8824110605", NUMBERS * 5 + NUMBERS[:1], "tpl", []),
        TooManyNumbers,
        limits.KM_TOO_MANY_NUMBERS,
    ),
    "smsapi-no-sender": (
        lambda c: c.sms.batch_send_sms("", NUMBERS[:1], "tpl", []),
        BadRequest,
        limits.KM_CHANNEL_NUMBER_LENGTH,
    ),
    "basic-5001": (
        lambda c: c.km.create_vms_send_task("t", DEMO_BASIC_TPL_ID, mobiles=NUMBERS * 50 + NUMBERS[:1]),
        TooManyNumbers,
        limits.KM_TOO_MANY_NUMBERS,
    ),
    "basic-both": (
        lambda c: c.km.create_vms_send_task(
            "t", DEMO_BASIC_TPL_ID, mobiles=NUMBERS[:1], individual=[(NUMBERS[1:2], [])]
        ),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "basic-neither": (
        lambda c: c.km.create_vms_send_task("t", DEMO_BASIC_TPL_ID),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "basic-73-hours": (
        lambda c: c.km.create_vms_send_task("t", DEMO_BASIC_TPL_ID, mobiles=NUMBERS[:1], expiration_hours=73),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "basic-101-params": (
        lambda c: c.km.create_vms_send_task("t", DEMO_BASIC_TPL_ID, mobiles=NUMBERS[:1], params=["p"] * 101),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "resolve-6-signs": (
        lambda c: c.km.create_resolve_task(DEMO_SMART_TPL_ID, ["s"] * 6, [LinkParam("x")]),
        BadRequest,
        limits.KM_BAD_SIGN_COUNT,
    ),
    "resolve-bracketed-sign": (
        lambda c: c.km.create_resolve_task(DEMO_SMART_TPL_ID, ["【华为云】"], [LinkParam("x")]),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "resolve-group-2-links": (
        lambda c: c.km.create_resolve_task(
            DEMO_SMART_TPL_ID,
            ["s"],
            [LinkParam("x"), LinkParam("y")],
            aim_code_type="group",
            resolving_times=5,
        ),
        TooManyNumbers,
        limits.KM_TOO_MANY_LINKS,
    ),
    "resolve-group-once": (
        lambda c: c.km.create_resolve_task(DEMO_SMART_TPL_ID, ["s"], [LinkParam("x")], aim_code_type="group"),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "list-limit-101": (
        lambda c: c.km.list_aim_send_tasks(limit=101),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "list-window-10000": (
        lambda c: c.km.list_aim_send_details(offset=9950, limit=100),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "callback-url-type": (
        lambda c: c.km.add_callback("http://127.0.0.1/x", 3),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
}


@pytest.mark.parametrize(("call", "error", "provider_code"), GUARDS.values(), ids=GUARDS.keys())
async def test_guards_raise_before_anything_is_sent(
    clients: Clients, simulator: RunningSimulator, call: Call, error: type[ProviderError], provider_code: str
) -> None:
    with pytest.raises(ProviderError) as caught:
        await call(clients)
    assert type(caught.value) is error
    assert (caught.value.code, caught.value.provider_code) == (0, provider_code)
    assert "refused before sending" in str(caught.value)
    assert sum(simulator.ledger.calls.values()) == 0


# A whole call is checked at once (bodies.smart_items); a bad value anywhere must still be refused, naming
# its recipient, exactly as a check per recipient would.
BAD_AMONG_GOOD: dict[str, tuple[str, tuple[str, ...], str]] = {
    "empty-value": (NUMBERS[57], ("ok", ""), "sms_param"),
    "21-char-value": (NUMBERS[57], ("x" * 21,), "sms_param"),
    "forbidden-char": (NUMBERS[57], ("价格。",), "sms_param"),
    "20-values": (NUMBERS[57], ("a",) * 20, "20 sms_params"),
    "empty-cust-flag": ("", ("ok",), "cust_flag length 0"),
    "65-char-cust-flag": ("1" * 65, ("ok",), "cust_flag length 65"),
}


@pytest.mark.parametrize(("mobile", "values", "named"), BAD_AMONG_GOOD.values(), ids=BAD_AMONG_GOOD.keys())
def test_one_bad_smart_param_in_a_full_call_is_refused_and_named(
    mobile: str, values: tuple[str, ...], named: str
) -> None:
    params = [SmartParam(n, (f"客户{i}", "x" * 20)) for i, n in enumerate(NUMBERS)]
    params[57] = SmartParam(mobile, values)
    with pytest.raises(BadRequest) as caught:
        smart_body("t", CHANNEL, DEMO_SMART_TPL_ID, params, 3)
    assert named in str(caught.value)
    if mobile == NUMBERS[57]:
        assert "138****0057" in str(caught.value)


def test_a_full_call_at_every_limit_is_built_as_given() -> None:
    """19 values of 20 characters, a NUL and non-ASCII text, no values at all, a dync map: all allowed."""
    edge = ("\x00" + "y" * 19, *("价" * 20 for _ in range(18)))
    dync = SmartParam(NUMBERS[2], ("a",), {"v": "1"})
    params = [SmartParam(NUMBERS[0], edge), SmartParam(NUMBERS[1]), dync]
    items = smart_body("t", CHANNEL, DEMO_SMART_TPL_ID, params, 3)["resolve_task"]["params"]  # type: ignore[index]
    assert items == [
        {"cust_flag": NUMBERS[0], "sms_params": edge},
        {"cust_flag": NUMBERS[1], "sms_params": ()},
        {"cust_flag": NUMBERS[2], "sms_params": ("a",), "dync_params": {"v": "1"}},
    ]


# -- logs ----------------------------------------------------------------------------------------------------
async def test_logs_never_show_secrets_or_full_numbers(
    clients: Clients, simulator: RunningSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = simulator.config
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []
    await clients.km.check_capability(NUMBERS)
    await clients.km.create_aim_send_task(
        "c1:0:smart:3", CHANNEL, DEMO_SMART_TPL_ID, smart_params([*NUMBERS[:5], "12345678901"])
    )
    await clients.km.send_sms("tpl", [*NUMBERS[:5], "12345678901"], ["1"])
    await clients.sms.batch_send_sms("8824110605", [*NUMBERS[:5], "12345678901"], "tpl", ["1"])
    await clients.km.list_aim_send_details(cust_flag=NUMBERS[0])
    for failing in (
        lambda: KooMessageClient(
            clients.http, simulator.url, Credentials(cfg.ak, cfg.sk + "x"), cfg.project_id
        ).check_capability(NUMBERS[:3]),
        lambda: clients.km.create_aim_send_task(
            "t", CHANNEL, DEMO_SMART_TPL_ID, [SmartParam(NUMBERS[0], ("a<b",))]
        ),
        lambda: clients.km.send_sms("tpl", ["1380000000a"], []),
    ):
        with pytest.raises(ProviderError) as caught:
            await failing()
        errors.append(str(caught.value))
    client_side = [
        r
        for r in caplog.records
        if not r.name.startswith(("engine.simulator", "aiohttp.access", "aiohttp.server"))
    ]
    assert any(r.name.startswith("engine.provider") for r in client_side)
    text = "\n".join([*(r.getMessage() for r in client_side), *errors])
    for secret in (cfg.sk, cfg.sms_app_secret, cfg.sk + "x"):
        assert secret not in text
    assert FULL_NUMBER.findall(text) == []
    assert "138****0000" in text  # failures are reported, masked


def test_public_api_is_curated() -> None:
    import engine.provider

    public = {name for name in dir(engine.provider) if not name.startswith("_")}
    modules = {name for name in public if isinstance(getattr(engine.provider, name), types.ModuleType)}
    assert public - modules == set(engine.provider.__all__)
