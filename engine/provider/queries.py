"""KooMessage reads and account settings: task/detail lists to reconcile by, templates, callbacks, ports.

``KooMessageQueries`` also owns the transport plumbing (credentials, project, list paging) that the sending
client builds on. Every method checks paging limits first (BadRequest, ``code=0``), then raises what
``ProviderHttp.call`` raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final
from urllib.parse import quote

from engine.provider.bodies import check_callback
from engine.provider.http import ProviderHttp, endpoint
from engine.provider.models import (
    AimTemplateInfo,
    CallbackInfo,
    Page,
    PortInfo,
    ResolveDetail,
    ResolveTaskInfo,
    SendDetail,
    SendReport,
    SendTaskInfo,
    SmsTemplateInfo,
    SmsTemplateVariable,
    VmsTaskInfo,
    VmsTemplateInfo,
    obj,
    objects,
    page,
    record,
)
from engine.provider.shaping import check_page
from engine.provider.signer import Credentials

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
SMS_TEMPLATES: Final = "/v1/sms/templates"


def timestamp(value: object) -> object:
    """Times go out as UTC ``2024-01-01T00:00:00Z`` (naive datetimes taken as UTC); other values unchanged."""
    if not isinstance(value, datetime):
        return value
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime(TIME_FORMAT)


class KooMessageQueries:
    """One KooMessage account (AK/SK, project) over a shared ProviderHttp: everything but the sends."""

    def __init__(self, http: ProviderHttp, base_url: str, creds: Credentials, project_id: str) -> None:
        endpoint(base_url)  # a malformed URL is a ConfigError now, not on the first send
        self._http = http
        self._base_url = base_url
        self._creds = creds
        self._project_id = project_id

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

    async def show_sms_template(self, template_id: str) -> SmsTemplateInfo:
        """A KooMessage SMS template by id; a missing one raises the provider's error (KM.00001082)."""
        data = await self._call("GET", f"{SMS_TEMPLATES}/{quote(template_id, safe='')}")
        return record(SmsTemplateInfo, data)

    async def list_sms_template_variables(self, template_id: str) -> tuple[SmsTemplateVariable, ...]:
        """The variables of a KooMessage SMS template, in index order."""
        data = await self._call("GET", f"{SMS_TEMPLATES}/{quote(template_id, safe='')}/variable")
        found = (record(SmsTemplateVariable, item) for item in objects(data, "results"))
        return tuple(sorted(found, key=lambda v: v.variable_index))

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
