"""KooMessage request bodies and answers: smart sends, short links, basic edition, callback registration.

Builders check the documented limits first and raise BadRequest / TooManyNumbers (``code=0``) before any
request exists; answer parsers turn per-item codes into SendResult / ResolveResult.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from engine.errors import Ambiguous
from engine.provider import limits
from engine.provider.codes import CALL_OK, TASK_FAILED
from engine.provider.models import (
    Json,
    LinkParam,
    ResolveResult,
    SendResult,
    ShortLink,
    SmartParam,
    SmsChannel,
    failures,
    obj,
    objects,
    text,
)
from engine.provider.shaping import (
    bad,
    call_failed,
    check_channel_number,
    check_count,
    check_extend,
    check_len,
    check_range,
    check_required,
    check_sms_params,
    check_tpl_id,
    smart_params_fit,
)

_ALNUM: Final = re.compile(r"[A-Za-z0-9]+")
_URL_SCHEMES: Final = ("http://", "https://")
_BRACKETS: Final = frozenset("【】[]")
RESOLVE_OK: Final = "0"


# -- smart send --------------------------------------------------------------------------------------------
def smart_body(
    task_name: str, channel: SmsChannel, tpl_id: str, params: Sequence[SmartParam], expiration_days: int
) -> dict[str, object]:
    """The body of ``POST /v1/aim/send-tasks``: ≤100 individual links, resolvable once, 1–7 days."""
    check_required(task_name, "task_name")
    check_tpl_id(tpl_id)
    check_count(
        params,
        limits.SMART_SEND_MAX_PARAMS,
        "smart-send params",
        too_many=limits.KM_TOO_MANY_LINKS,
        empty=limits.KM_EMPTY_PARAMS,
    )
    check_range(expiration_days, limits.INDIVIDUAL_EXPIRATION_DAYS, "expiration_time")
    check_channel_number(channel.channel_number, "channel_number")
    check_required(channel.signature, "sms_sign", limits.KM_SIGN_EMPTY)
    resolve_task = {
        "tpl_id": tpl_id,
        "resolve_times": 1,
        "aim_code_type": "individual",
        "expiration_time": expiration_days,
        "params": smart_items(params),
    }
    sms_channel = {
        "channel_number": channel.channel_number,
        "sms_tpl_id": channel.sms_template_id,
        "sms_sign": channel.signature,
        "sms_app_name": channel.app_name,
    }
    return {"task_name": task_name, "sms_channel": sms_channel, "resolve_task": resolve_task}


def smart_items(params: Sequence[SmartParam]) -> list[dict[str, object]]:
    """The ``resolve_task.params`` entries of a smart send, checked for the whole call at once.

    Only when the call holds a bad value are the recipients checked one by one, to name the first
    offender in the error.
    """
    if not smart_params_fit([p.mobile for p in params], [p.sms_params for p in params]):
        for param in params:
            check_len(param.mobile, limits.CUST_FLAG_MAX, "cust_flag", low=1)
            check_sms_params(param.sms_params, param.mobile)
    items: list[dict[str, object]] = [{"cust_flag": p.mobile, "sms_params": p.sms_params} for p in params]
    for item, param in zip(items, params, strict=True):
        if param.dync_params:
            dync = param.dync_params
            item["dync_params"] = dync if type(dync) is dict else dict(dync)
    return items


def smart_answer(data: Json, params: Sequence[SmartParam]) -> SendResult:
    """``failed_short_chains`` are failed with their ``result_code``, every other number is accepted.

    A submission whose ``task_state`` is Failed sent nothing: numbers it does not list fail as ``Failed``.
    """
    task_id = text(data, "task_id")
    failed = failures(data, "failed_short_chains")
    if text(data, "task_state") == TASK_FAILED:
        return SendResult(task_id, (), {p.mobile: failed.get(p.mobile, TASK_FAILED) for p in params})
    if not failed:
        return SendResult(task_id, tuple(p.mobile for p in params), {})
    return SendResult(task_id, tuple(p.mobile for p in params if p.mobile not in failed), failed)


# -- KooMessage SMS ----------------------------------------------------------------------------------------
def sms_options(channel_num: str | None, extend: str | None, task_name: str | None) -> dict[str, object]:
    """The optional fields of a KooMessage SMS send, checked; absent ones are left out."""
    check_channel_number(channel_num, "channel_num")
    check_extend(extend)
    check_len(task_name, limits.TASK_NAME_MAX_SMS, "task_name")
    options = {"channel_num": channel_num, "extend": extend, "task_name": task_name}
    return {key: value for key, value in options.items() if value is not None}


# -- short links -------------------------------------------------------------------------------------------
def link_body(
    tpl_id: str,
    sms_signs: Sequence[str],
    params: Sequence[LinkParam],
    aim_code_type: str,
    resolving_times: int,
    expiration_days: int,
    generation_type: str | None,
    domain: str | None,
) -> dict[str, object]:
    """The body of ``POST /v1/aim/resolve-tasks`` (group: one link, ≥2 resolves, 1–180 days; individual:
    ≤100 links, 1–7 days; custom short codes need ``generation_type`` "2" and a domain)."""
    check_tpl_id(tpl_id)
    check_signs(sms_signs)
    if aim_code_type not in ("group", "individual"):
        raise bad("aim_code_type must be group or individual", limits.KM_BAD_AIM_CODE_TYPE)
    group = aim_code_type == "group"
    most = 1 if group else limits.RESOLVE_MAX_PARAMS
    check_count(params, most, "short links", too_many=limits.KM_TOO_MANY_LINKS, empty=limits.KM_EMPTY_PARAMS)
    low_times = 2 if group else limits.RESOLVING_TIMES[0]
    check_range(resolving_times, (low_times, limits.RESOLVING_TIMES[1]), "resolving_times")
    days = limits.GROUP_EXPIRATION_DAYS if group else limits.INDIVIDUAL_EXPIRATION_DAYS
    check_range(expiration_days, days, "expiration_time")
    custom = generation_type == "2"
    if custom and not domain:
        raise bad("generation_type 2 needs a domain")
    body: dict[str, object] = {
        "tpl_id": tpl_id,
        "sms_signs": list(sms_signs),
        "resolving_times": resolving_times,
        "aim_code_type": aim_code_type,
        "expiration_time": expiration_days,
        "params": [link_item(param, group, custom) for param in params],
    }
    if generation_type is not None:
        body["generation_type"] = generation_type
    if domain is not None:
        body["domain"] = domain
    return body


def check_signs(sms_signs: Sequence[str]) -> None:
    """1–5 signatures, each non-blank and written without 【】 brackets (they must equal the SMS's)."""
    if not 1 <= len(sms_signs) <= limits.MAX_SMS_SIGNS:
        raise bad(f"{len(sms_signs)} sms_signs outside 1..{limits.MAX_SMS_SIGNS}", limits.KM_BAD_SIGN_COUNT)
    for sign in sms_signs:
        check_required(sign, "sms_sign", limits.KM_SIGN_EMPTY)
        if not _BRACKETS.isdisjoint(sign):
            raise bad("sms_signs are written without brackets")


def link_item(param: LinkParam, group: bool, custom: bool) -> dict[str, object]:
    """One CreateShortChainParam; dynamic params only for individual links."""
    check_len(param.cust_flag, limits.CUST_FLAG_MAX, "cust_flag", low=1)
    item: dict[str, object] = {"cust_flag": param.cust_flag}
    if param.dync_params:
        if group:
            raise bad("dync_params need aim_code_type individual", limits.KM_BAD_AIM_CODE_TYPE)
        item["dync_params"] = dict(param.dync_params)
    if param.custom_url is not None:
        check_len(param.custom_url, limits.CUSTOM_URL_MAX_RESOLVE, "custom_url")
        if not param.custom_url.startswith(_URL_SCHEMES):
            raise bad("custom_url must start with http:// or https://")
        item["custom_url"] = param.custom_url
    if custom:
        code = param.custom_short_code or ""
        low, high = limits.CUSTOM_SHORT_CODE_LEN
        if not low <= len(code) <= high or not _ALNUM.fullmatch(code):
            raise bad(f"custom_short_code must be {low}-{high} letters or digits")
        item["custom_short_code"] = code
    return item


def resolve_answer(data: Json) -> ResolveResult:
    """Links with ``result_code`` "0" are made; the others are failed with their code."""
    links: list[ShortLink] = []
    failed: dict[str, str] = {}
    for item in objects(data, "params"):
        code = text(item, "result_code")
        if code == RESOLVE_OK:
            fields = (text(item, key) for key in ("cust_flag", "aim_url", "aim_code", "expire_date"))
            links.append(ShortLink(*fields))
        else:
            failed[text(item, "cust_flag")] = code
    return ResolveResult(text(data, "task_id"), tuple(links), failed)


# -- basic edition -----------------------------------------------------------------------------------------
def vms_body(
    task_name: str,
    tpl_id: str,
    mobiles: Sequence[str] | None,
    params: Sequence[str],
    individual: Sequence[tuple[Sequence[str], Sequence[str]]] | None,
    expiration_hours: int,
    exdata: str | None,
) -> tuple[dict[str, object], list[str]]:
    """The body of ``POST /v1/aim-basic/send-tasks`` and the numbers it addresses (≤5000 in all)."""
    check_required(task_name, "task_name")
    check_tpl_id(tpl_id)
    check_range(expiration_hours, limits.VMS_EXPIRATION_HOURS, "expiration_time")
    check_len(exdata, limits.EXDATA_MAX, "exdata")
    body: dict[str, object] = {"task_name": task_name, "tpl_id": tpl_id, "expiration_time": expiration_hours}
    if mobiles is not None and individual is None:
        numbers = list(mobiles)
        body["mobiles"] = numbers
        if params:
            body["dync_params"] = content_params(params)
    elif individual is not None and mobiles is None:
        if not individual or not all(group for group, _ in individual):
            raise bad("individual_params need numbers", limits.KM_PHONE_LIST_EMPTY)
        body["individual_params"] = [
            {"mobiles": list(m), "dync_params": content_params(p)} for m, p in individual
        ]
        numbers = [number for group, _ in individual for number in group]
    else:
        raise bad("give exactly one of mobiles and individual_params")
    check_count(numbers, limits.BASIC_MAX_MOBILES, "basic-edition mobiles")
    if exdata is not None:
        body["exdata"] = exdata
    return body, numbers


def content_params(values: Sequence[str]) -> list[dict[str, str]]:
    """Positional text parameters ``#p_1#``, ``#p_2#`` … (≤100, each ≤256 characters)."""
    if len(values) > limits.BASIC_MAX_DYNC_PARAMS:
        raise bad(f"{len(values)} dync_params > {limits.BASIC_MAX_DYNC_PARAMS}")
    for value in values:
        check_len(value, limits.CONTENT_DETAIL_MAX, "content_detail")
    return [
        {
            "param_name": f"#p_{index}#",
            "content_type": "txt",
            "content_source": "txt",
            "content_detail": value,
        }
        for index, value in enumerate(values, 1)
    ]


def vms_answer(data: Json, numbers: Sequence[str]) -> SendResult:
    """``data.ret_code`` decides for the whole call. Raises Ambiguous when the answer carries none."""
    inner = obj(data, "data")
    task_id, ret_code = text(inner, "task_id"), text(inner, "ret_code")
    if not ret_code:
        raise Ambiguous("basic-edition send answered without data.ret_code")
    if ret_code in CALL_OK:
        return SendResult(task_id, tuple(numbers), {})
    return call_failed(task_id, numbers, ret_code)


# -- callbacks ---------------------------------------------------------------------------------------------
def check_callback(url: str, url_type: int, types: tuple[int, int]) -> None:
    """A receipt URL: http(s), ≤1000 characters, a known ``url_type``."""
    check_range(url_type, types, "url_type")
    check_len(url, limits.CALLBACK_URL_MAX, "callback_url", low=1)
    if not url.startswith(_URL_SCHEMES):
        raise bad("callback_url must start with http:// or https://")
