"""The provider clients against the real simulator: round trips, signatures, error mapping, guards, logs."""

from __future__ import annotations

import asyncio
import logging

import pytest

from engine.errors import (
    ProviderError,
)
from engine.provider import (
    KooMessageClient,
    LinkParam,
    ProviderHttp,
    Reason,
    SmartParam,
    SmsApiClient,
    limits,
    reason,
)
from engine.provider.signer import Credentials
from engine.simulator import RunningSimulator, SimulatorThread, is_capable
from engine.simulator.templates import DEMO_BASIC_TPL_ID, DEMO_SMART_TPL_ID
from tests.provider.clients import CHANNEL, FULL_NUMBER, NUMBERS, Clients, settings_for, smart_params


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
