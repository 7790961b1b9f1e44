"""The official Huawei SDKs (KooMessage, Message&SMS) against the simulator over loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkkoomessage.v1 import (
    AddCallBackRequest,
    AddCallbackRequestBody,
    AddVmsCallBackRequest,
    AddVmsCallBackRequestBody,
    AIMResolveTask,
    CheckMobileCapabilityRequest,
    CheckMobileCapabilityRequestBody,
    CreateAimSendTaskRequest,
    CreateAimSendTaskRequestBody,
    CreateResolveTaskParam,
    CreateResolveTaskRequest,
    CreateResolveTaskRequestBody,
    CreateShortChainParam,
    CreateVmsSendTaskRequest,
    CreateVmsSendTaskRequestBody,
    IndividualContentParam,
    IndividualParam,
    KooMessageClient,
    ListAimCallbacksRequest,
    ListAimResolveDetailsRequest,
    ListAimSendDetailsRequest,
    ListAimSendReportsRequest,
    ListAimSendReportsRequestBody,
    ListAimSendTasksRequest,
    ListAimTemplateReportsRequest,
    ListAimTemplateReportsRequestBody,
    ListAimTemplatesRequest,
    ListPortInfosRequest,
    ListPubInfosRequest,
    ListResolveTasksRequest,
    ListVmsCallbacksRequest,
    ListVmsSendTasksRequest,
    ListVmsTemplateStatusRequest,
    MsgContent,
    SendAimBatchDifferentMessagesRequest,
    SendAimBatchMessagesRequest,
    SmsChannel,
    SmsMultiTemplateTaskRequestBody,
    SmsTaskReq,
)
from huaweicloudsdksmsapi.v1 import (
    BatchSendDiffSmsRequest,
    BatchSendDiffSmsRequestBody,
    BatchSendSmsRequest,
    BatchSendSmsRequestBody,
    SMSApiClient,
    SmsContent,
)
from huaweicloudsdksmsapi.v1.smsapi_credentials import SMSApiCredentials

from engine.simulator import SimulatorThread, is_capable
from engine.simulator.templates import DEMO_BASIC_TPL_ID, DEMO_SMART_TPL_ID


def _http_config() -> HttpConfig:
    config = HttpConfig.get_default_config()
    config.timeout = (2, 5)
    config.retry_times = 0
    return config


def _koomessage(sim: SimulatorThread, sk: str | None = None, project: str | None = None) -> KooMessageClient:
    c = sim.config
    credentials = BasicCredentials(c.ak, sk or c.sk, project or c.project_id)
    builder = KooMessageClient.new_builder().with_credentials(credentials).with_endpoints([sim.url])
    return builder.with_http_config(_http_config()).build()


def _smsapi(sim: SimulatorThread, secret: str | None = None) -> SMSApiClient:
    credentials = SMSApiCredentials(sim.config.sms_app_key, secret or sim.config.sms_app_secret)
    builder = SMSApiClient.new_builder().with_credentials(credentials).with_endpoints([sim.url])
    return builder.with_http_config(_http_config()).build()


@pytest.fixture
def km(simulator_thread: SimulatorThread) -> Iterator[KooMessageClient]:
    yield _koomessage(simulator_thread)


def _send_body(task_name: str, flags: list[str]) -> CreateAimSendTaskRequestBody:
    channel = SmsChannel(
        channel_number="10690000", sms_tpl_id="sms_tpl_1", sms_sign="华为云", sms_app_name="app1"
    )
    params = [
        CreateResolveTaskParam(cust_flag=f, dync_params={"name": "张三"}, sms_params=["20240101"])
        for f in flags
    ]
    task = AIMResolveTask(
        tpl_id=DEMO_SMART_TPL_ID,
        resolve_times=1,
        aim_code_type="individual",
        expiration_time=3,
        params=params,
    )
    return CreateAimSendTaskRequestBody(task_name=task_name, sms_channel=channel, resolve_task=task)


def test_capability_split_matches_is_capable(simulator_thread: SimulatorThread, km: KooMessageClient) -> None:
    mobiles = [f"1380000{i:04d}" for i in range(98)] + ["+8613912345678", "not-a-number"]
    body = CheckMobileCapabilityRequestBody(mobiles=mobiles, tpl_id=DEMO_SMART_TPL_ID)
    reply = km.check_mobile_capability(CheckMobileCapabilityRequest(body=body))
    share = simulator_thread.config.capable_share
    assert reply.supported_mobiles == [m for m in mobiles if is_capable(m, share)]
    assert reply.unsupported_mobiles == [m for m in mobiles if not is_capable(m, share)]
    assert 0.5 < len(reply.supported_mobiles) / len(mobiles) < 0.9
    assert reply.tpl_id == DEMO_SMART_TPL_ID


def test_resolve_task_and_its_queries(km: KooMessageClient) -> None:
    params = [CreateShortChainParam(cust_flag=f"1300000000{i}", dync_params={"name": "x"}) for i in range(2)]
    body = CreateResolveTaskRequestBody(
        tpl_id=DEMO_SMART_TPL_ID,
        sms_signs=["华为云"],
        resolving_times=1,
        aim_code_type="individual",
        expiration_time=7,
        params=params,
    )
    created = km.create_resolve_task(CreateResolveTaskRequest(body=body))
    assert created.task_id
    assert [p.result_code for p in created.params] == ["0", "0"]
    assert all(p.aim_url == f"km2g.cn/{p.aim_code}" and len(p.aim_code) == 6 for p in created.params)
    assert created.params[0].expire_date.endswith("Z")

    listed = km.list_resolve_tasks(ListResolveTasksRequest(task_id=created.task_id))
    assert listed.page_info.total == 1
    assert listed.resolve_tasks[0].sms_signs == ["华为云"]
    details = km.list_aim_resolve_details(
        ListAimResolveDetailsRequest(task_id=created.task_id, offset=0, limit=10)
    )
    assert [d.cust_flag for d in details.resolve_details] == ["13000000000", "13000000001"]
    assert {d.resolved_status for d in details.resolve_details} == {"unresolved"}


def test_send_task_and_reconciliation_queries(km: KooMessageClient) -> None:
    name = "camp-1:0:smart:3 (任务/a+b)"  # odd characters exercise the signed query string
    sent = km.create_aim_send_task(
        CreateAimSendTaskRequest(body=_send_body(name, ["13000000001", "130", "13000000002"]))
    )
    assert sent.task_id and sent.task_state == "Success"
    assert (sent.submission_count, sent.send_count, sent.support_resolve_count) == (3, 2, -1)
    assert [(f.cust_flag, f.result_code != "0") for f in sent.failed_short_chains] == [("130", True)]
    assert sent.creation_time is not None and sent.resolve_task.params[0].sms_params == ["20240101"]

    tasks = km.list_aim_send_tasks(ListAimSendTasksRequest(task_name=name))
    assert tasks.page_info.total == 1
    assert tasks.aim_send_tasks[0].task_id == sent.task_id
    assert km.list_aim_send_tasks(ListAimSendTasksRequest(task_id=sent.task_id)).page_info.total == 1
    assert km.list_aim_send_tasks(ListAimSendTasksRequest(task_name="other")).page_info.total == 0

    request = ListAimSendDetailsRequest(task_id=sent.task_id, cust_flag="13000000002", offset=0, limit=10)
    details = km.list_aim_send_details(request).send_details
    assert [(d.cust_flag, d.task_id) for d in details] == [("13000000002", sent.task_id)]
    assert details[0].send_status in ("sending", "success", "fail")

    body = ListAimSendReportsRequestBody(report_type="1", offset=0, limit=10)
    reports = km.list_aim_send_reports(ListAimSendReportsRequest(body=body))
    assert reports.data.data_list[0].submission_count == 3
    assert reports.data.data_list[0].tpl_id == DEMO_SMART_TPL_ID


def test_template_reports(km: KooMessageClient) -> None:
    body = ListAimTemplateReportsRequestBody(
        tpl_ids=[DEMO_SMART_TPL_ID], begin_time="2024-01-01T00:00:00Z", end_time="2024-02-01T00:00:00Z"
    )
    reply = km.list_aim_template_reports(ListAimTemplateReportsRequest(body=body))
    assert [r.tpl_id for r in reply.template_reports] == [DEMO_SMART_TPL_ID]


def test_koomessage_sms_per_number_statuses(km: KooMessageClient) -> None:
    body = SmsTaskReq(
        template_id="sms-tpl",
        to=["+8613000000001", "13000000001", "x1"],
        template_params=["a"],
        extend="ref-1",
    )
    reply = km.send_aim_batch_messages(SendAimBatchMessagesRequest(body=body))
    assert reply.task_id and reply.status == "Success"
    assert [r.send_status for r in reply.result] == ["000000", "E200041", "E200027"]
    assert all(r.msg_id and r.create_time.endswith("Z") for r in reply.result)

    content = [
        MsgContent(to=["13000000003"], template_id="t1", template_params=["a"]),
        MsgContent(to=["13000000004"], template_id="t2"),
    ]
    diff = SmsMultiTemplateTaskRequestBody(sms_content=content, channel_num="10690000", extend="ref-2")
    reply = km.send_aim_batch_different_messages(SendAimBatchDifferentMessagesRequest(body=diff))
    assert [(r.to, r.send_status, r.channel_num) for r in reply.result] == [
        ("13000000003", "000000", "10690000"),
        ("13000000004", "000000", "10690000"),
    ]


def test_basic_edition_send_and_list(km: KooMessageClient) -> None:
    dync = [
        IndividualContentParam(
            param_name="#p_1#", content_type="txt", content_source="txt", content_detail="hi"
        )
    ]
    body = CreateVmsSendTaskRequestBody(
        task_name="vms-1",
        tpl_id=DEMO_BASIC_TPL_ID,
        expiration_time=24,
        individual_params=[IndividualParam(mobiles=["13000000001", "13000000002"], dync_params=dync)],
        exdata="camp-1:0:basic:0",
    )
    sent = km.create_vms_send_task(CreateVmsSendTaskRequest(body=body))
    assert sent.data.task_id and sent.data.ret_code == "0"
    tasks = km.list_vms_send_tasks(ListVmsSendTasksRequest(task_name="vms-1")).data
    assert tasks.page_info.total == 1
    task = tasks.aim_basic_send_tasks[0]
    assert (task.task_id, task.exdata, task.total_count) == (sent.data.task_id, "camp-1:0:basic:0", 2)
    assert (
        km.list_vms_send_tasks(ListVmsSendTasksRequest(task_id=sent.data.task_id)).data.page_info.total == 1
    )


def test_template_catalogues(km: KooMessageClient) -> None:
    smart = km.list_aim_templates(ListAimTemplatesRequest(factory_type=["HUAWEI", "OPPO"], has_param=True))
    assert [(t.tpl_id, t.tpl_state) for t in smart.templates] == [(DEMO_SMART_TPL_ID, 1)]
    assert smart.templates[0].params[0].name == "name"
    basic = km.list_vms_template_status(ListVmsTemplateStatusRequest(tpl_id=DEMO_BASIC_TPL_ID))
    assert [(t.tpl_id, t.audit_state) for t in basic.data.templates] == [(DEMO_BASIC_TPL_ID, 0)]


def test_callback_registration(km: KooMessageClient) -> None:
    url = "http://127.0.0.1:9/receipts"
    added = km.add_call_back(AddCallBackRequest(body=AddCallbackRequestBody(callback_url=url, url_type=2)))
    assert added.data.id and added.data.url_type == 2
    assert [c.callback_url for c in km.list_aim_callbacks(ListAimCallbacksRequest()).data] == [url]
    body = AddVmsCallBackRequestBody(url_type=0, callback_url=url, remark="status")
    km.add_vms_call_back(AddVmsCallBackRequest(body=body))
    callbacks = km.list_vms_callbacks(ListVmsCallbacksRequest()).data.callbacks
    assert [(c.url_type, c.callback_url, c.remark) for c in callbacks] == [(0, url, "status")]


def test_service_numbers_and_ports(km: KooMessageClient) -> None:
    pubs = km.list_pub_infos(ListPubInfosRequest(offset=0, limit=10)).data
    assert pubs.page_info.total == 1 and pubs.data[0].state == 2
    ports = km.list_port_infos(ListPortInfosRequest(offset=0, limit=10)).data
    assert ports.data[0].port and ports.data[0].create_time is not None


def test_message_sms_api(simulator_thread: SimulatorThread) -> None:
    client = _smsapi(simulator_thread)
    body = BatchSendSmsRequestBody(
        _from="8824110605",
        to="+8613000000001,+8613000000002",
        template_id="8ff55eac",
        template_paras='["369751"]',
        extend="e1",
    )
    reply = client.batch_send_sms(BatchSendSmsRequest(body=body))
    assert reply.code == "000000"
    assert [(r.origin_to, r.status) for r in reply.result] == [
        ("+8613000000001", "000000"),
        ("+8613000000002", "000000"),
    ]
    assert all(r.sms_msg_id for r in reply.result)

    content = [SmsContent(to=["+8613000000003"], template_id="tpl1", template_paras=["a", "b"])]
    diff = client.batch_send_diff_sms(
        BatchSendDiffSmsRequest(body=BatchSendDiffSmsRequestBody(_from="88241106", sms_content=content))
    )
    assert [(r.origin_to, r.status) for r in diff.result] == [("+8613000000003", "000000")]
    assert simulator_thread.ledger(channel="sms")["sms"] == {"accepted": 3, "unique": 3, "duplicates": 0}


@pytest.mark.parametrize("kind", ["secret", "project"])
def test_koomessage_rejects_bad_credentials(simulator_thread: SimulatorThread, kind: str) -> None:
    if kind == "secret":
        client = _koomessage(simulator_thread, sk="wrong-secret")
    else:
        client = _koomessage(simulator_thread, project="f" * 32)
    with pytest.raises(ClientRequestException) as info:
        client.list_aim_callbacks(ListAimCallbacksRequest())
    assert (info.value.status_code, info.value.error_code) == (401, "APIGW.0301")
    assert info.value.request_id


def test_sms_api_rejects_wrong_secret(simulator_thread: SimulatorThread) -> None:
    body = BatchSendSmsRequestBody(_from="8824110605", to="+8613000000001", template_id="t")
    with pytest.raises(ClientRequestException) as info:
        _smsapi(simulator_thread, secret="wrong").batch_send_sms(BatchSendSmsRequest(body=body))
    assert (info.value.status_code, info.value.error_code) == (401, "APIGW.0301")
    assert simulator_thread.ledger()["sms"]["accepted"] == 0


def test_limit_violation_maps_to_sdk_exception(km: KooMessageClient) -> None:
    body = CheckMobileCapabilityRequestBody(mobiles=[f"1380000{i:04d}" for i in range(101)])
    with pytest.raises(ClientRequestException) as info:
        km.check_mobile_capability(CheckMobileCapabilityRequest(body=body))
    assert (info.value.status_code, info.value.error_code) == (400, "KM.90016301")
    assert info.value.request_id and info.value.error_msg
