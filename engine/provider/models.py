"""Frozen request and result records of the provider clients, and their parsing from the provider's JSON.

Results keep only what the engine acts on; every field the provider may omit parses to ``""`` / ``0``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Json = Mapping[str, Any]
T = TypeVar("T")


# -- parsing helpers ---------------------------------------------------------------------------------------
def text(data: Json, key: str) -> str:
    """A string field; missing or null → ``""``."""
    value = data.get(key)
    return "" if value is None else str(value)


def number(data: Json, key: str) -> int:
    """An integer field; missing, null or not a number → 0."""
    value = data.get(key)
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        return 0


def texts(data: Json, key: str) -> tuple[str, ...]:
    """A list of strings; anything else → ``()``."""
    value = data.get(key)
    return tuple(str(item) for item in value) if isinstance(value, list) else ()


def objects(data: Json, key: str) -> list[Json]:
    """The JSON objects of a list field; anything else → ``[]``."""
    value = data.get(key)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def obj(data: Json, key: str) -> Json:
    """A nested JSON object; anything else → ``{}``."""
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def failures(data: Json, key: str) -> dict[str, str]:
    """``[{cust_flag, result_code}, …]`` → cust_flag → result_code (failed short links / smart sends)."""
    return {text(item, "cust_flag"): text(item, "result_code") for item in objects(data, key)}


R = TypeVar("R", bound="DataclassInstance")


def record(cls: type[R], data: Json, **given: object) -> R:
    """Build a result record from the same-named JSON keys (``int`` fields as numbers, the rest as text).

    Fields that are not plain str/int (tuples, mappings) must be ``given``.
    """
    values: dict[str, object] = {}
    for field in fields(cls):
        if field.name not in given:
            values[field.name] = number(data, field.name) if field.type == "int" else text(data, field.name)
    return cls(**values, **given)


# -- requests ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SmsChannel:
    """The SMS half of a smart message; all four must match each other in the KooMessage console."""

    channel_number: str
    sms_template_id: str
    signature: str
    app_name: str


@dataclass(frozen=True, slots=True)
class SmartParam:
    """One recipient of a smart send: ``sms_params`` in SMS-template order, without the link variable."""

    mobile: str
    sms_params: tuple[str, ...] = ()
    dync_params: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class LinkParam:
    """One short link of a resolve task; ``cust_flag`` is any unique id (≤64 chars)."""

    cust_flag: str
    dync_params: Mapping[str, str] | None = None
    custom_url: str | None = None
    custom_short_code: str | None = None


# -- results -----------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CapabilityResult:
    """Which numbers can receive smart messages (numbers as sent)."""

    supported: tuple[str, ...]
    unsupported: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SendResult:
    """The provider's answer to one send call (smart, SMS or basic edition).

    ``accepted`` numbers were taken for delivery; ``failed`` maps a number to the provider code that rejected
    it (see ``codes.reason``). ``task_id`` is empty for the Message&SMS API, which has no tasks.
    """

    task_id: str
    accepted: tuple[str, ...]
    failed: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list endpoint; ``total`` counts every match, not only this page."""

    items: tuple[T, ...]
    offset: int
    limit: int
    total: int


def page(data: Json, key: str, item: Callable[[Json], T]) -> Page[T]:
    """Parse ``{key: [...], page_info: {offset, limit, total}}``."""
    info = obj(data, "page_info")
    return Page(
        tuple(item(entry) for entry in objects(data, key)),
        number(info, "offset"),
        number(info, "limit"),
        number(info, "total"),
    )


@dataclass(frozen=True, slots=True)
class ShortLink:
    """A generated short link (``aim_url`` like ``km2g.cn/PDiWqc``) and when it stops resolving."""

    cust_flag: str
    aim_url: str
    aim_code: str
    expire_date: str


@dataclass(frozen=True, slots=True)
class ResolveResult:
    """A resolve task: the links made, and cust_flag → result_code of those refused."""

    task_id: str
    links: tuple[ShortLink, ...]
    failed: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class SendTaskInfo:
    """A smart-message send task as listed by the provider (submission state, not delivery)."""

    task_id: str
    task_name: str
    task_state: str
    tpl_id: str
    creation_time: str
    submission_count: int
    send_count: int
    resolve_count: int
    support_resolve_count: int
    success_number: int
    failed: Mapping[str, str]

    @classmethod
    def parse(cls, data: Json) -> SendTaskInfo:
        """From an ``aim_send_tasks`` item."""
        tpl_id = text(obj(data, "resolve_task"), "tpl_id")
        return record(cls, data, tpl_id=tpl_id, failed=failures(data, "failed_short_chains"))


@dataclass(frozen=True, slots=True)
class SendDetail:
    """Delivery of one smart message (``send_status`` success | fail | sending)."""

    msg_id: str
    task_id: str
    task_name: str
    tpl_id: str
    cust_flag: str
    send_status: str
    send_time: str
    receive_time: str
    result_code: str


@dataclass(frozen=True, slots=True)
class VmsTaskInfo:
    """A basic-edition (video SMS) send task with its delivery counters."""

    task_id: str
    task_name: str
    task_state: str
    tpl_id: str
    create_time: str
    send_time: str
    total_count: int
    success_count: int
    failed_count: int
    timeout_count: int
    exdata: str


@dataclass(frozen=True, slots=True)
class ResolveTaskInfo:
    """A resolve (short-link generation) task."""

    task_id: str
    task_name: str
    tpl_id: str
    sms_signs: tuple[str, ...]
    resolving_times: int
    resolved_times: int
    aim_code_type: str
    domain: str
    expiration_time: int

    @classmethod
    def parse(cls, data: Json) -> ResolveTaskInfo:
        """From a ``resolve_tasks`` item."""
        return record(cls, data, sms_signs=texts(data, "sms_signs"))


@dataclass(frozen=True, slots=True)
class ResolveDetail:
    """One short link of a resolve or send task (``resolved_status`` success | fail | unresolved)."""

    resolve_id: str
    task_id: str
    tpl_id: str
    cust_flag: str
    aim_url: str
    result_code: str
    generate_date: str
    expire_date: str
    resolved_time: str
    resolved_status: str


@dataclass(frozen=True, slots=True)
class AimTemplateInfo:
    """A smart-message template: state, the phone makers it renders on, its dynamic parameter names."""

    tpl_id: str
    tpl_name: str
    tpl_state: int
    audit_state: int
    factories: tuple[str, ...]
    params: tuple[str, ...]

    @classmethod
    def parse(cls, data: Json) -> AimTemplateInfo:
        """From a ``templates`` item of ``GET /v1/aim/templates``."""
        factories = tuple(text(item, "factory_type") for item in objects(data, "factory_info"))
        params = tuple(text(item, "name") for item in objects(data, "params"))
        return record(cls, data, factories=factories, params=params)


@dataclass(frozen=True, slots=True)
class VmsTemplateInfo:
    """A basic-edition template: ``audit_state`` 0 usable … 5 expired, variables ``#p_1#`` …"""

    tpl_id: str
    tpl_name: str
    title: str
    tpl_sign: str
    audit_state: int
    variables: tuple[str, ...]

    @classmethod
    def parse(cls, data: Json) -> VmsTemplateInfo:
        """From a ``templates`` item of ``GET /v1/aim-basic/templates``."""
        variables = tuple(text(item, "name") for item in objects(data, "var_info"))
        return record(cls, data, variables=variables)


@dataclass(frozen=True, slots=True)
class SmsTemplateInfo:
    """A KooMessage SMS template (短消息模板): ``flow_status`` Adopted / Reviewing / Reject, its text
    (without the 【signature】), ``template_type`` PROMOTION_TYPE / NOTIFY_TYPE."""

    template_id: str
    template_name: str
    template_type: str
    template_content: str
    flow_status: str
    status: str
    app_name: str


@dataclass(frozen=True, slots=True)
class SmsTemplateVariable:
    """One variable of an SMS template; ``variable_type`` NEWTEXT is the short link (解析标识)."""

    variable_index: int
    variable_type: str
    variable_length: int


@dataclass(frozen=True, slots=True)
class CallbackInfo:
    """A registered receipt URL (``id`` only for smart-message callbacks, ``remark`` only for basic)."""

    url_type: int
    callback_url: str
    id: str
    remark: str


@dataclass(frozen=True, slots=True)
class PortInfo:
    """A channel number (端口) of the service-number console and the signatures bound to it."""

    id: str
    port: str
    signs: tuple[str, ...]
    pub_id: str
    pub_name: str
    is_bind: int

    @classmethod
    def parse(cls, data: Json) -> PortInfo:
        """From a ``data`` item of ``GET /v1/aim-sa/ports``."""
        return record(cls, data, signs=texts(data, "sign"))


@dataclass(frozen=True, slots=True)
class SendReport:
    """Daily or monthly totals of one smart template."""

    report_time: str
    tpl_id: str
    tpl_name: str
    submission_count: int
    support_resolve_count: int
    send_count: int
    send_success_count: int
    resolve_success_count: int
