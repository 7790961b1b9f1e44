"""Plain SMS: KooMessage ``/v1/aim/sms/*`` and the Message&SMS API ``/sms/batchSend*Sms/v1``.

Both APIs parse into one :class:`SmsRequest`, share the limits and the per-number verdicts (``000000``,
E200027 not a mainland mobile, E200041 repeated within the request) and differ only in field names.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import chain, repeat
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from engine.simulator import contract
from engine.simulator import validate as v
from engine.simulator.capability import all_normal, normalize_mobile
from engine.simulator.reports import SmsDelivery, schedule_sms
from engine.simulator.state import STATE, SimState
from engine.simulator.wire import bad, iso, json_response, read_json

Verdict = tuple[str, str, str]  # number as sent, msg id, status
Group = tuple[list[str], str, list[str]]  # numbers, template id, params


@dataclass(frozen=True, slots=True)
class SmsRequest:
    """One SMS call, whichever API it came through; ``groups`` are (numbers, template id, params)."""

    channel_num: str
    groups: list[Group]
    extend: str | None
    status_url: str | None
    task_name: str | None


async def send_aim_batch_messages(request: web.Request) -> web.Response:
    """``POST /v1/aim/sms/messages`` (SmsTaskReq): one template to ≤500 numbers."""
    body = await read_json(request)
    channel = v.channel_number(body, "channel_num") if body.get("channel_num") is not None else ""
    to = _numbers(body.get("to"))
    group = (
        to,
        v.req_str(body, "template_id", contract.SMS_TEMPLATE_ID_MAX),
        _params(body, "template_params"),
    )
    sms = SmsRequest(
        channel, [group], v.extend(body), None, v.opt_str(body, "task_name", contract.TASK_NAME_MAX_SMS)
    )
    return _koomessage_answer(request, sms)


async def send_aim_batch_different_messages(request: web.Request) -> web.Response:
    """``POST /v1/aim/sms/diff-messages``: several templates, ≤500 numbers per call in total."""
    body = await read_json(request)
    items = v.req_list(
        body, "sms_content", contract.KM_EMPTY_PARAMS, contract.KM_SMS_MAX_TO, contract.KM_TOO_MANY_NUMBERS
    )
    groups = _groups(items, "to", "template_id", "template_params")
    channel = v.channel_number(body, "channel_num")
    sms = SmsRequest(
        channel, groups, v.extend(body), None, v.opt_str(body, "task_name", contract.TASK_NAME_MAX_SMS)
    )
    return _koomessage_answer(request, sms)


async def batch_send_sms(request: web.Request) -> web.Response:
    """``POST /sms/batchSendSms/v1`` (form): ``to`` comma-separated, ``templateParas`` a JSON array string."""
    form = dict(parse_qsl((await request.read()).decode(errors="replace"), keep_blank_values=True))
    to = _numbers([n for n in form.get("to", "").split(",") if n.strip()])
    try:
        params = orjson.loads(form["templateParas"]) if form.get("templateParas") else []
    except orjson.JSONDecodeError:
        bad(contract.KM_INVALID_PARAMETER, "templateParas must be a JSON array of strings")
    group = (
        to,
        v.req_str(form, "templateId", contract.SMS_TEMPLATE_ID_MAX),
        v.template_params(params, "templateParas"),
    )
    return _smsapi_answer(request, _smsapi_request(form, [group]))


async def batch_send_diff_sms(request: web.Request) -> web.Response:
    """``POST /sms/batchSendDiffSms/v1`` (JSON ``smsContent[]``)."""
    body = await read_json(request)
    items = v.req_list(
        body, "smsContent", contract.KM_EMPTY_PARAMS, contract.SMSAPI_MAX_TO, contract.KM_TOO_MANY_NUMBERS
    )
    groups = _groups(items, "to", "templateId", "templateParas")
    return _smsapi_answer(request, _smsapi_request(body, groups))


def _smsapi_request(fields: dict[str, Any], groups: list[Group]) -> SmsRequest:
    status_url = v.opt_str(fields, "statusCallback", contract.CALLBACK_URL_MAX)
    return SmsRequest(v.channel_number(fields, "from"), groups, v.extend(fields), status_url or None, None)


def _numbers(value: Any) -> list[str]:
    """A non-empty list of ≤500 number strings of ≤21 characters (KM.00001083 / KM.90016301)."""
    numbers = v.req_list(
        {"to": value},
        "to",
        contract.KM_PHONE_LIST_EMPTY,
        contract.KM_SMS_MAX_TO,
        contract.KM_TOO_MANY_NUMBERS,
    )
    return v.string_items(numbers, "to number", contract.SMS_TO_ITEM_MAX, contract.KM_TOO_MANY_NUMBERS)


def _params(obj: dict[str, Any], key: str) -> list[str]:
    return v.template_params(obj.get(key), key)


def _groups(items: list[Any], to_key: str, tpl_key: str, params_key: str) -> list[Group]:
    """The groups of a diff-messages call. One item per recipient is common, so a few passes over all
    items check the common case (every item valid) before the item-by-item checks name a violation."""
    if set(map(type, items)) == {dict}:
        columns: list[list[Any]] = [
            list(map(dict.get, items, repeat(key))) for key in (to_key, tpl_key, params_key)
        ]
        numbers, templates, params = columns
        if _groups_fit(numbers, templates, params):
            return list(zip(numbers, templates, params, strict=True))
    return [_group(item, to_key, tpl_key, params_key) for item in items]


def _groups_fit(numbers: list[Any], templates: list[Any], params: list[Any]) -> bool:
    """Whether :func:`_group` accepts every item, given their numbers, template ids and params."""
    return (
        v.all_fit(numbers, list, 1, contract.KM_SMS_MAX_TO)
        and v.all_fit(list(chain.from_iterable(numbers)), str, 1, contract.SMS_TO_ITEM_MAX)
        and v.all_fit(templates, str, 1, contract.SMS_TEMPLATE_ID_MAX)
        and all(map(str.strip, templates))
        and v.all_fit(params, list, 0, contract.TEMPLATE_PARAMS_MAX)
        and v.all_fit(list(chain.from_iterable(params)), str)
    )


def _group(item: Any, to_key: str, tpl_key: str, params_key: str) -> Group:
    if not isinstance(item, dict):
        bad(contract.KM_INVALID_PARAMETER, "message content items must be objects")
    return (
        _numbers(item.get(to_key)),
        v.req_str(item, tpl_key, contract.SMS_TEMPLATE_ID_MAX),
        _params(item, params_key),
    )


def _accept(state: SimState, sms: SmsRequest) -> tuple[str, list[Verdict], float]:
    """Check the total, charge the rate, judge every number, ledger the accepted ones, schedule reports."""
    total = sum(len(numbers) for numbers, _, _ in sms.groups)
    if total > contract.KM_SMS_MAX_TO:
        bad(contract.KM_TOO_MANY_NUMBERS, f"{total} numbers in one call, at most {contract.KM_SMS_MAX_TO}")
    state.admit("sms", total)
    batch = state.new_id()
    verdicts, mobiles, msg_ids = _judge(batch, sms)
    state.ledger.record(
        "sms", mobiles, {"task_id": batch, "extend": sms.extend or "", "task_name": sms.task_name or ""}
    )
    outcomes, due = state.draw_delivery(len(mobiles))
    now = time.time()
    schedule_sms(
        state, SmsDelivery(msg_ids, mobiles, outcomes, now, due, sms.extend, sms.status_url, sms.channel_num)
    )
    return batch, verdicts, now


def _judge(batch: str, sms: SmsRequest) -> tuple[list[Verdict], list[str], list[str]]:
    """Per-number status; returns the verdicts plus the accepted numbers (normalised) and their msg ids."""
    numbers = list(chain.from_iterable(group[0] for group in sms.groups))
    if all_normal(numbers) and len(set(numbers)) == len(numbers):  # the common case: every number accepted
        msg_ids = [f"{batch}_{i}" for i in range(len(numbers))]
        return list(zip(numbers, msg_ids, repeat(contract.SMS_OK))), numbers, msg_ids
    seen: set[str] = set()
    verdicts: list[Verdict] = []
    mobiles: list[str] = []
    msg_ids = []
    for raw in numbers:
        msg_id = f"{batch}_{len(verdicts)}"
        mobile = normalize_mobile(raw)
        if mobile is None:
            status = contract.SMS_INVALID_NUMBER
        elif mobile in seen:
            status = contract.SMS_DUPLICATE
        else:
            status = contract.SMS_OK
            seen.add(mobile)
            mobiles.append(mobile)
            msg_ids.append(msg_id)
        verdicts.append((raw, msg_id, status))
    return verdicts, mobiles, msg_ids


def _koomessage_answer(request: web.Request, sms: SmsRequest) -> web.Response:
    batch, verdicts, now = _accept(request.app[STATE], sms)
    created = iso(now)
    result = [
        {
            "to": raw,
            "channel_num": sms.channel_num,
            "msg_id": msg_id,
            "send_status": status,
            "create_time": created,
        }
        for raw, msg_id, status in verdicts
    ]
    ok = any(status == contract.SMS_OK for _, _, status in verdicts)
    return json_response(
        {"task_id": batch, "status": contract.TASK_SUCCESS if ok else contract.TASK_FAILED, "result": result}
    )


def _smsapi_answer(request: web.Request, sms: SmsRequest) -> web.Response:
    _, verdicts, now = _accept(request.app[STATE], sms)
    created = iso(now)
    result = [
        {
            "originTo": raw,
            "createTime": created,
            "from": sms.channel_num,
            "smsMsgId": msg_id,
            "status": status,
            "countryId": "CN",
            "total": 1,
        }
        for raw, msg_id, status in verdicts
    ]
    return json_response({"code": contract.SMS_OK, "description": "Success", "result": result})
