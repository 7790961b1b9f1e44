"""KooMessage reads and account settings: task/detail lists to reconcile by, templates, callbacks, ports.

``KooMessageQueries`` also owns the transport plumbing (credentials, project, list paging) that the sending
client builds on. The paged lists are a table run by one ``_page``: a ``Listing`` per endpoint (its path,
where the items are in the answer and how each parses, its filters). The ``list_*`` methods are the typed
entries: each long set of keyword filters is a TypedDict (``**filters: Unpack[...]``, unknown names refused
with a TypeError as Python would), the short ones are named parameters. Every method checks paging limits
first (BadRequest, ``code=0``), then raises what ``ProviderHttp.call`` raises.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final, Generic, Literal, TypedDict, TypeVar, Unpack
from urllib.parse import quote

from engine.provider.bodies import check_callback
from engine.provider.http import ProviderHttp, endpoint
from engine.provider.models import (
    AimTemplateInfo,
    CallbackInfo,
    Json,
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
T = TypeVar("T")

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


# -- the keyword filters of each list, sent as the query parameters of the same names ----------------------
class Window(TypedDict, total=False):
    """Created from … to; without both, the provider's default window (see each list)."""

    begin_time: Timestamp | None
    end_time: Timestamp | None


class OfTask(Window, total=False):
    """The rows of one task, or of one template's tasks."""

    task_id: str | None
    tpl_id: str | None


class TaskFilters(OfTask, total=False):
    """Send tasks, smart or basic edition: ``task_name`` is the client reference to reconcile by."""

    task_name: str | None
    task_status: str | None


class ResolveTaskFilters(OfTask, total=False):
    task_name: str | None


class SendDetailFilters(OfTask, total=False):
    """Per-number deliveries: ``cust_flag`` is the number (or the flag it was sent with)."""

    cust_flag: str | None


class ResolveDetailFilters(Window, total=False):
    """Short links: ``resolved_status`` success | fail | unresolved."""

    task_id: str | None
    cust_flag: str | None
    resolved_status: str | None


@dataclass(frozen=True, slots=True)
class Listing(Generic[T]):
    """One paged list endpoint: where it is, where the items are in its answer and how each parses.

    ``filters`` is the TypedDict of the entry's ``**filters`` (the names it accepts), None when the entry
    names its few filters itself. A GET sends the filters and paging as the query, a POST as the JSON body.
    ``envelope`` names the object the page is wrapped in (``{"data": {key: [...], "page_info": ...}}``).
    """

    path: str
    key: str
    parse: Callable[[Json], T]
    filters: type[Mapping[str, object]] | None = None
    envelope: str = ""
    method: Literal["GET", "POST"] = "GET"


SEND_TASK_LIST: Final = Listing(SEND_TASKS, "aim_send_tasks", SendTaskInfo.parse, TaskFilters)
SEND_DETAIL_LIST: Final = Listing(
    SEND_DETAILS, "send_details", partial(record, SendDetail), SendDetailFilters
)
SEND_REPORT_LIST: Final = Listing(
    SEND_REPORTS, "data_list", partial(record, SendReport), envelope="data", method="POST"
)
RESOLVE_TASK_LIST: Final = Listing(RESOLVE_TASKS, "resolve_tasks", ResolveTaskInfo.parse, ResolveTaskFilters)
RESOLVE_DETAIL_LIST: Final = Listing(
    RESOLVE_DETAILS, "resolve_details", partial(record, ResolveDetail), ResolveDetailFilters
)
VMS_TASK_LIST: Final = Listing(
    VMS_SEND_TASKS, "aim_basic_send_tasks", partial(record, VmsTaskInfo), TaskFilters, envelope="data"
)
AIM_TEMPLATE_LIST: Final = Listing(AIM_TEMPLATES, "templates", AimTemplateInfo.parse)
VMS_TEMPLATE_LIST: Final = Listing(VMS_TEMPLATES, "templates", VmsTemplateInfo.parse, envelope="data")
PORT_LIST: Final = Listing(PORTS, "data", PortInfo.parse, envelope="data")


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

    async def _page(
        self, listing: Listing[T], offset: int, limit: int, filters: Mapping[str, object], **fixed: object
    ) -> Page[T]:
        """One page of ``listing``: sends ``fixed`` as given, the paging, then the ``filters`` not None.

        That is the order of a JSON body; a query goes out sorted. Times go out in UTC (``timestamp``).
        """
        unknown = filters.keys() - listing.filters.__annotations__.keys() if listing.filters else ()
        if unknown:
            names = ", ".join(map(repr, sorted(unknown)))
            raise TypeError(f"{listing.method} {listing.path}: unexpected keyword argument {names}")
        check_page(offset, limit)
        given = {key: value for key, value in filters.items() if value is not None}
        params = {
            key: timestamp(value) if key.endswith("_time") else value
            for key, value in {**fixed, "offset": offset, "limit": limit, **given}.items()
        }
        query, body = (None, params) if listing.method == "POST" else (params, None)
        data = await self._call(listing.method, listing.path, query=query, json=body)
        return page(obj(data, listing.envelope) if listing.envelope else data, listing.key, listing.parse)

    async def list_aim_send_tasks(
        self, *, offset: int = 0, limit: int = 100, **filters: Unpack[TaskFilters]
    ) -> Page[SendTaskInfo]:
        """Smart send tasks (default window: the last 7 days); find a task by its ``task_name`` reference."""
        return await self._page(SEND_TASK_LIST, offset, limit, filters)

    async def list_aim_send_details(
        self, *, offset: int = 0, limit: int = 100, **filters: Unpack[SendDetailFilters]
    ) -> Page[SendDetail]:
        """Per-number delivery of smart messages, by task or by number."""
        return await self._page(SEND_DETAIL_LIST, offset, limit, filters)

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
        period = {"report_type": report_type, "begin_time": begin_time, "end_time": end_time}
        return await self._page(SEND_REPORT_LIST, offset, limit, {"tpl_id": tpl_id}, **period)

    async def list_resolve_tasks(
        self, *, offset: int = 0, limit: int = 100, **filters: Unpack[ResolveTaskFilters]
    ) -> Page[ResolveTaskInfo]:
        """Resolve tasks (default window: the last 24 hours)."""
        return await self._page(RESOLVE_TASK_LIST, offset, limit, filters)

    async def list_resolve_details(
        self, *, offset: int = 0, limit: int = 100, **filters: Unpack[ResolveDetailFilters]
    ) -> Page[ResolveDetail]:
        """Short links of a resolve or send task and whether they were opened."""
        return await self._page(RESOLVE_DETAIL_LIST, offset, limit, filters)

    async def list_vms_send_tasks(
        self, *, offset: int = 0, limit: int = 100, **filters: Unpack[TaskFilters]
    ) -> Page[VmsTaskInfo]:
        """Basic-edition tasks with delivery counters; find a task by its ``task_name`` reference."""
        return await self._page(VMS_TASK_LIST, offset, limit, filters)

    async def list_aim_templates(
        self, tpl_id: str | None = None, *, tpl_name: str | None = None, offset: int = 0, limit: int = 100
    ) -> Page[AimTemplateInfo]:
        """Smart-message templates with their state, phone makers and dynamic parameter names."""
        return await self._page(AIM_TEMPLATE_LIST, offset, limit, {"tpl_id": tpl_id, "tpl_name": tpl_name})

    async def list_vms_templates(
        self, tpl_id: str | None = None, *, tpl_name: str | None = None, offset: int = 0, limit: int = 100
    ) -> Page[VmsTemplateInfo]:
        """Basic-edition templates with their audit state and variables."""
        return await self._page(VMS_TEMPLATE_LIST, offset, limit, {"tpl_id": tpl_id, "tpl_name": tpl_name})

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
        return await self._page(PORT_LIST, offset, limit, {"port": port})
