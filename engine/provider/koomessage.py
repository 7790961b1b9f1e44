"""KooMessage API client (AK/SK + X-Project-Id): capability, smart sends, SMS, basic edition, queries.

Every method checks the documented request limits first (raising TooManyNumbers / BadRequest with ``code=0``
before anything is sent), then raises what ``ProviderHttp.call`` raises.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final

from engine.provider import limits
from engine.provider.bodies import (
    check_callback,
    link_body,
    resolve_answer,
    smart_answer,
    smart_body,
    sms_options,
    vms_answer,
    vms_body,
)
from engine.provider.http import ProviderHttp, endpoint
from engine.provider.models import (
    AimTemplateInfo,
    CallbackInfo,
    CapabilityResult,
    LinkParam,
    Page,
    PortInfo,
    ResolveDetail,
    ResolveResult,
    ResolveTaskInfo,
    SendDetail,
    SendReport,
    SendResult,
    SendTaskInfo,
    SmartParam,
    SmsChannel,
    VmsTaskInfo,
    VmsTemplateInfo,
    obj,
    objects,
    page,
    record,
    text,
    texts,
)
from engine.provider.shaping import (
    check_count,
    check_page,
    check_required,
    check_sms_batch,
    check_sms_contents,
    check_sms_template,
    check_tpl_id,
    log_result,
    sms_answer,
)
from engine.provider.signer import Credentials
from engine.settings import Settings

log = logging.getLogger(__name__)

Timestamp = str | datetime
TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"

CAPABILITY: Final = "/v1/aim/mobile-capabilities/check"
SEND_TASKS: Final = "/v1/aim/send-tasks"
SEND_DETAILS: Final = "/v1/aim/send-details"
SEND_REPORTS: Final = "/v1/aim/send-reports"
RESOLVE_TASKS: Final = "/v1/aim/resolve-tasks"
RESOLVE_DETAILS: Final = "/v1/aim/resolve-details"
AIM_TEMPLATES: Final = "/v1/aim/templates"
AIM_CALLBACKS: Final = "/v1/aim/callbacks"
SMS_MESSAGES: Final = "/v1/aim/sms/messages"
SMS_DIFF_MESSAGES: Final = "/v1/aim/sms/diff-messages"
VMS_SEND_TASKS: Final = "/v1/aim-basic/send-tasks"
VMS_TEMPLATES: Final = "/v1/aim-basic/templates"
VMS_CALLBACKS: Final = "/v1/aim-basic/callbacks"
PORTS: Final = "/v1/aim-sa/ports"


def timestamp(value: object) -> object:
    """Times go out as UTC ``2024-01-01T00:00:00Z`` (naive datetimes taken as UTC); other values unchanged."""
    if not isinstance(value, datetime):
        return value
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime(TIME_FORMAT)


class KooMessageClient:
    """One KooMessage account (AK/SK, project) over a shared ProviderHttp."""

    def __init__(self, http: ProviderHttp, base_url: str, creds: Credentials, project_id: str) -> None:
        endpoint(base_url)  # a malformed URL is a ConfigError now, not on the first send
        self._http = http
        self._base_url = base_url
        self._creds = creds
        self._project_id = project_id

    @classmethod
    def from_settings(cls, http: ProviderHttp, settings: Settings) -> KooMessageClient:
        """The client of the configured account (``KOODISPATCH_AK/SK/PROJECT_ID``)."""
        creds = Credentials(settings.ak.get_secret_value(), settings.sk.get_secret_value())
        return cls(http, settings.provider.koomessage_url, creds, settings.project_id)

    async def _call(
        self, method: str, path: str, *, query: Mapping[str, object] | None = None, json: object = None
    ) -> dict[str, Any]:
        return await self._http.call(
            self._creds, self._base_url, method, path, query=query, json=json, project_id=self._project_id
        )

    async def _list(
        self, path: str, offset: int, limit: int, filters: Mapping[str, object]
    ) -> dict[str, Any]:
        check_page(offset, limit)
        query = {key: timestamp(value) if key.endswith("_time") else value for key, value in filters.items()}
        return await self._call("GET", path, query={**query, "offset": offset, "limit": limit})

    # -- capability and smart sends --------------------------------------------------------------------------
    async def check_capability(self, mobiles: Sequence[str], tpl_id: str | None = None) -> CapabilityResult:
        """Which of ≤100 numbers can receive smart messages (of ``tpl_id``'s phone makers, if given)."""
        check_count(mobiles, limits.CAPABILITY_MAX_MOBILES, "mobiles")
        body: dict[str, object] = {"mobiles": list(mobiles)}
        if tpl_id is not None:
            check_tpl_id(tpl_id)
            body["tpl_id"] = tpl_id
        data = await self._call("POST", CAPABILITY, json=body)
        return CapabilityResult(texts(data, "supported_mobiles"), texts(data, "unsupported_mobiles"))

    async def create_aim_send_task(
        self,
        task_name: str,
        channel: SmsChannel,
        tpl_id: str,
        params: Sequence[SmartParam],
        expiration_days: int = 3,
    ) -> SendResult:
        """Send one smart message to each of ≤100 numbers (individual short links, resolvable once).

        Numbers listed in ``failed_short_chains`` are ``failed`` with their ``result_code``; the rest are
        ``accepted``. ``task_name`` is the client reference to reconcile by (``list_aim_send_tasks``).
        """
        body = smart_body(task_name, channel, tpl_id, params, expiration_days)
        result = smart_answer(await self._call("POST", SEND_TASKS, json=body), params)
        log_result(log, "smart send", task_name, result)
        return result

    async def list_aim_send_tasks(
        self,
        *,
        task_name: str | None = None,
        task_id: str | None = None,
        tpl_id: str | None = None,
        task_status: str | None = None,
        begin_time: Timestamp | None = None,
        end_time: Timestamp | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[SendTaskInfo]:
        """Smart send tasks (default window: the last 7 days); find a task by its ``task_name`` reference."""
        filters = {
            "task_name": task_name,
            "task_id": task_id,
            "tpl_id": tpl_id,
            "task_status": task_status,
            "begin_time": begin_time,
            "end_time": end_time,
        }
        return page(
            await self._list(SEND_TASKS, offset, limit, filters), "aim_send_tasks", SendTaskInfo.parse
        )

    async def list_aim_send_details(
        self,
        *,
        task_id: str | None = None,
        cust_flag: str | None = None,
        tpl_id: str | None = None,
        begin_time: Timestamp | None = None,
        end_time: Timestamp | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[SendDetail]:
        """Per-number delivery of smart messages, by task or by number."""
        filters = {
            "task_id": task_id,
            "cust_flag": cust_flag,
            "tpl_id": tpl_id,
            "begin_time": begin_time,
            "end_time": end_time,
        }
        data = await self._list(SEND_DETAILS, offset, limit, filters)
        return page(data, "send_details", partial(record, SendDetail))

    async def list_aim_send_reports(
        self,
        begin_time: Timestamp,
        end_time: Timestamp,
        *,
        report_type: str = "1",
        tpl_id: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[SendReport]:
        """Daily (``report_type`` "1") or monthly ("2") totals per smart template."""
        check_page(offset, limit)
        body: dict[str, object] = {
            "report_type": report_type,
            "begin_time": timestamp(begin_time),
            "end_time": timestamp(end_time),
            "offset": offset,
            "limit": limit,
        }
        if tpl_id is not None:
            body["tpl_id"] = tpl_id
        data = await self._call("POST", SEND_REPORTS, json=body)
        return page(obj(data, "data"), "data_list", partial(record, SendReport))

    # -- short links -----------------------------------------------------------------------------------------
    async def create_resolve_task(
        self,
        tpl_id: str,
        sms_signs: Sequence[str],
        params: Sequence[LinkParam],
        *,
        aim_code_type: str = "individual",
        resolving_times: int = 1,
        expiration_days: int = 7,
        generation_type: str | None = None,
        domain: str | None = None,
    ) -> ResolveResult:
        """Generate short links without sending (≤100 individual, or 1 group link resolvable ≥2 times)."""
        body = link_body(
            tpl_id,
            sms_signs,
            params,
            aim_code_type,
            resolving_times,
            expiration_days,
            generation_type,
            domain,
        )
        return resolve_answer(await self._call("POST", RESOLVE_TASKS, json=body))

    async def list_resolve_tasks(
        self,
        *,
        task_id: str | None = None,
        task_name: str | None = None,
        tpl_id: str | None = None,
        begin_time: Timestamp | None = None,
        end_time: Timestamp | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[ResolveTaskInfo]:
        """Resolve tasks (default window: the last 24 hours)."""
        filters = {
            "task_id": task_id,
            "task_name": task_name,
            "tpl_id": tpl_id,
            "begin_time": begin_time,
            "end_time": end_time,
        }
        data = await self._list(RESOLVE_TASKS, offset, limit, filters)
        return page(data, "resolve_tasks", ResolveTaskInfo.parse)

    async def list_resolve_details(
        self,
        *,
        task_id: str | None = None,
        cust_flag: str | None = None,
        resolved_status: str | None = None,
        begin_time: Timestamp | None = None,
        end_time: Timestamp | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[ResolveDetail]:
        """Short links of a resolve or send task and whether they were opened."""
        filters = {
            "task_id": task_id,
            "cust_flag": cust_flag,
            "resolved_status": resolved_status,
            "begin_time": begin_time,
            "end_time": end_time,
        }
        data = await self._list(RESOLVE_DETAILS, offset, limit, filters)
        return page(data, "resolve_details", partial(record, ResolveDetail))

    # -- KooMessage plain SMS --------------------------------------------------------------------------------
    async def send_sms(
        self,
        template_id: str,
        to: Sequence[str],
        template_params: Sequence[str],
        *,
        channel_num: str | None = None,
        extend: str | None = None,
        task_name: str | None = None,
    ) -> SendResult:
        """One SMS template to ≤500 numbers; per-number ``send_status`` decides accepted / failed."""
        check_sms_template(template_id)
        check_sms_batch(to, template_params, limits.KM_SMS_MAX_TO)
        body = sms_options(channel_num, extend, task_name)
        body.update(template_id=template_id, to=list(to), template_params=list(template_params))
        return await self._send_sms(SMS_MESSAGES, body, to)

    async def send_diff_sms(
        self,
        contents: Sequence[tuple[Sequence[str], str, Sequence[str]]],
        *,
        channel_num: str,
        extend: str | None = None,
        task_name: str | None = None,
    ) -> SendResult:
        """Several ``(to, template_id, params)`` SMS in one call, each ``to`` ≤500 numbers."""
        check_sms_contents(contents, limits.KM_SMS_MAX_TO)
        check_required(channel_num, "channel_num", limits.KM_CHANNEL_NUMBER_LENGTH)
        body = sms_options(channel_num, extend, task_name)
        body["sms_content"] = [
            {"to": list(to), "template_id": template_id, "template_params": list(params)}
            for to, template_id, params in contents
        ]
        return await self._send_sms(SMS_DIFF_MESSAGES, body, [n for to, _, _ in contents for n in to])

    async def _send_sms(self, path: str, body: dict[str, object], numbers: Sequence[str]) -> SendResult:
        data = await self._call("POST", path, json=body)
        result = sms_answer(
            text(data, "task_id"),
            objects(data, "result"),
            numbers,
            text(data, "status"),
            to_key="to",
            status_key="send_status",
        )
        log_result(log, "KooMessage SMS", str(body.get("task_name") or body.get("extend") or ""), result)
        return result

    # -- basic edition (video SMS) ---------------------------------------------------------------------------
    async def create_vms_send_task(
        self,
        task_name: str,
        tpl_id: str,
        *,
        mobiles: Sequence[str] | None = None,
        params: Sequence[str] = (),
        individual: Sequence[tuple[Sequence[str], Sequence[str]]] | None = None,
        expiration_hours: int = 24,
        exdata: str | None = None,
    ) -> SendResult:
        """A basic-edition send to ≤5000 numbers: ``mobiles`` with shared positional ``params`` (#p_1#…), or
        ``individual`` ``(mobiles, params)`` groups — exactly one of the two.

        The provider answers for the whole call: ``data.ret_code`` OK → every number accepted, else every
        number failed with that code.
        """
        body, numbers = vms_body(task_name, tpl_id, mobiles, params, individual, expiration_hours, exdata)
        result = vms_answer(await self._call("POST", VMS_SEND_TASKS, json=body), numbers)
        log_result(log, "basic send", task_name, result)
        return result

    async def list_vms_send_tasks(
        self,
        *,
        task_name: str | None = None,
        task_id: str | None = None,
        tpl_id: str | None = None,
        task_status: str | None = None,
        begin_time: Timestamp | None = None,
        end_time: Timestamp | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[VmsTaskInfo]:
        """Basic-edition tasks with delivery counters; find a task by its ``task_name`` reference."""
        filters = {
            "task_name": task_name,
            "task_id": task_id,
            "tpl_id": tpl_id,
            "task_status": task_status,
            "begin_time": begin_time,
            "end_time": end_time,
        }
        data = await self._list(VMS_SEND_TASKS, offset, limit, filters)
        return page(obj(data, "data"), "aim_basic_send_tasks", partial(record, VmsTaskInfo))

    # -- templates, callbacks, ports -------------------------------------------------------------------------
    async def list_aim_templates(
        self, tpl_id: str | None = None, *, tpl_name: str | None = None, offset: int = 0, limit: int = 100
    ) -> Page[AimTemplateInfo]:
        """Smart-message templates with their state, phone makers and dynamic parameter names."""
        data = await self._list(AIM_TEMPLATES, offset, limit, {"tpl_id": tpl_id, "tpl_name": tpl_name})
        return page(data, "templates", AimTemplateInfo.parse)

    async def list_vms_templates(
        self, tpl_id: str | None = None, *, tpl_name: str | None = None, offset: int = 0, limit: int = 100
    ) -> Page[VmsTemplateInfo]:
        """Basic-edition templates with their audit state and variables."""
        data = await self._list(VMS_TEMPLATES, offset, limit, {"tpl_id": tpl_id, "tpl_name": tpl_name})
        return page(obj(data, "data"), "templates", VmsTemplateInfo.parse)

    async def add_callback(self, url: str, url_type: int) -> CallbackInfo:
        """Register a smart-message receipt URL (0 single, 1 template status, 2 batch)."""
        check_callback(url, url_type, (0, 2))
        data = await self._call("POST", AIM_CALLBACKS, json={"callback_url": url, "url_type": url_type})
        return record(CallbackInfo, obj(data, "data"))

    async def list_callbacks(self) -> tuple[CallbackInfo, ...]:
        """The registered smart-message receipt URLs."""
        data = await self._call("GET", AIM_CALLBACKS)
        return tuple(record(CallbackInfo, item) for item in objects(data, "data"))

    async def add_vms_callback(self, url: str, url_type: int, remark: str | None = None) -> None:
        """Register a basic-edition receipt URL (0 send status, 1 uplink)."""
        check_callback(url, url_type, (0, 1))
        body: dict[str, object] = {"url_type": url_type, "callback_url": url}
        if remark is not None:
            body["remark"] = remark
        await self._call("POST", VMS_CALLBACKS, json=body)

    async def list_vms_callbacks(self) -> tuple[CallbackInfo, ...]:
        """The registered basic-edition receipt URLs."""
        data = await self._call("GET", VMS_CALLBACKS)
        return tuple(record(CallbackInfo, item) for item in objects(obj(data, "data"), "callbacks"))

    async def list_port_infos(
        self, *, port: str | None = None, offset: int = 0, limit: int = 100
    ) -> Page[PortInfo]:
        """Channel numbers (ports) and their bound signatures."""
        data = await self._list(PORTS, offset, limit, {"port": port})
        return page(obj(data, "data"), "data", PortInfo.parse)
