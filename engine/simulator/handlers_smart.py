"""Smart-message calls: capability check, resolve (short-link) tasks and send tasks."""

from __future__ import annotations

import time
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

from aiohttp import web

from engine.simulator import contract
from engine.simulator import validate as v
from engine.simulator.capability import all_normal, normalize_mobile, split_capable
from engine.simulator.reports import schedule_smart
from engine.simulator.state import STATE, SimState
from engine.simulator.store import ResolveTask, SmartTask, aim_code
from engine.simulator.wire import bad, iso, iso_ms, json_response, read_json

DAY = 86400.0
_BRACKETS = frozenset("【】[]")
_SCHEMES = ("http://", "https://")
_PLAIN_PARAM_KEYS = frozenset(("cust_flag", "sms_params"))
_cust_flag = itemgetter("cust_flag")


async def check_mobile_capability(request: web.Request) -> web.Response:
    """``POST /v1/aim/mobile-capabilities/check``: split numbers by :func:`split_capable`.

    Anything that is not a mainland mobile (or a well-formed SHA-1 digest) lands in unsupported_mobiles,
    so the two lists always partition the input.
    """
    state = request.app[STATE]
    body = await read_json(request)
    mobiles = v.req_list(
        body,
        "mobiles",
        contract.KM_PHONE_LIST_EMPTY,
        contract.CAPABILITY_MAX_MOBILES,
        contract.KM_TOO_MANY_NUMBERS,
    )
    v.string_items(mobiles, "mobile", contract.CAPABILITY_MOBILE_MAX)
    tpl = body.get("tpl_id")
    if tpl is not None:
        v.template(state.config, "smart", v.tpl_id(body))
    algorithm = body.get("encryption_alg") or "NONE"
    if algorithm not in ("NONE", "SHA1"):
        bad(contract.KM_INVALID_PARAMETER, "encryption_alg must be NONE or SHA1")
    state.admit("capability", len(mobiles))
    supported, unsupported = split_capable(mobiles, state.config.capable_share, algorithm == "SHA1")
    return json_response({"supported_mobiles": supported, "unsupported_mobiles": unsupported, "tpl_id": tpl})


async def create_resolve_task(request: web.Request) -> web.Response:
    """``POST /v1/aim/resolve-tasks``: generate one short link per param (group: exactly one)."""
    state = request.app[STATE]
    body = await read_json(request)
    tpl = v.tpl_id(body)
    template = v.template(state.config, "smart", tpl)
    signs = v.req_list(
        body, "sms_signs", contract.KM_BAD_SIGN_COUNT, contract.MAX_SMS_SIGNS, contract.KM_BAD_SIGN_COUNT
    )
    _check_signs(signs)
    code_type = body.get("aim_code_type")
    if code_type not in ("group", "individual"):
        bad(contract.KM_BAD_AIM_CODE_TYPE, "aim_code_type must be group or individual")
    group = code_type == "group"
    times = v.req_int(
        body, "resolving_times", contract.GROUP_RESOLVING_TIMES if group else contract.RESOLVING_TIMES
    )
    days = v.req_int(
        body,
        "expiration_time",
        contract.GROUP_EXPIRATION_DAYS if group else contract.INDIVIDUAL_EXPIRATION_DAYS,
    )
    generation, domain = _generation(body)
    most = 1 if group else contract.RESOLVE_MAX_PARAMS
    params = v.req_list(body, "params", contract.KM_EMPTY_PARAMS, most, contract.KM_TOO_MANY_LINKS)
    _check_link_params(params, group, generation, contract.CUSTOM_URL_MAX_RESOLVE)
    now = time.time()
    base = state.store.allocate_links(len(params))
    custom = generation == "2"
    modes = [
        _link_mode(p, domain, p["custom_short_code"] if custom else aim_code(base + i), now, now + days * DAY)
        for i, p in enumerate(params)
    ]
    task_id = state.new_id()
    echo = {
        "tpl_id": tpl,
        "sms_signs": signs,
        "resolving_times": times,
        "resolved_times": 0,
        "aim_code_type": code_type,
        "domain": body.get("domain"),
        "expiration_time": days,
    }
    state.store.resolve[task_id] = ResolveTask(task_id, now, tpl, _name(template), echo, modes)
    return json_response({"task_id": task_id, **echo, "params": modes})


async def create_aim_send_task(request: web.Request) -> web.Response:
    """``POST /v1/aim/send-tasks``: accept every param whose cust_flag is a mainland mobile.

    Other params come back in failed_short_chains with result_code KM.00001084; only accepted numbers
    are ledgered, stored for the queries and reported to the callbacks.
    """
    state = request.app[STATE]
    body = await read_json(request)
    task_name = v.req_str(body, "task_name")
    channel = v.req_object(body, "sms_channel")
    _check_sms_channel(channel)
    resolve = v.req_object(body, "resolve_task")
    template = v.template(state.config, "smart", v.tpl_id(resolve))
    if resolve.get("aim_code_type") != "individual":
        bad(contract.KM_BAD_AIM_CODE_TYPE, "send tasks need aim_code_type individual")
    v.req_int(resolve, "resolve_times", contract.RESOLVING_TIMES)
    days = v.req_int(resolve, "expiration_time", contract.INDIVIDUAL_EXPIRATION_DAYS)
    generation, domain = _generation(resolve)
    params = v.req_list(
        resolve,
        "params",
        contract.KM_EMPTY_PARAMS,
        contract.SMART_SEND_MAX_PARAMS,
        contract.KM_TOO_MANY_LINKS,
    )
    _check_link_params(params, False, generation, contract.CUSTOM_URL_MAX_SEND, with_sms_params=True)
    state.admit("smart", len(params))
    task = _accept_send(state, body, template, (generation, domain), days)
    schedule_smart(state, task)
    return json_response(
        {
            "task_name": task_name,
            "sms_channel": channel,
            "resolve_task": resolve,
            "task_id": task.task_id,
            "task_state": contract.TASK_SUCCESS if task.mobiles else contract.TASK_FAILED,
            "creation_time": iso_ms(task.created),
            "submission_count": len(params),
            "send_count": len(task.mobiles),
            "resolve_count": 0,
            "support_resolve_count": -1,  # API tasks are not capability-checked, as documented
            "failed_short_chains": task.failed,
        }
    )


def _accept_send(
    state: SimState,
    body: dict[str, Any],
    template: dict[str, Any] | None,
    links: tuple[str, str],
    days: int,
) -> SmartTask:
    """Split params into accepted numbers and failed links; store, ledger and return the task.

    ``links`` is (generation_type, domain): custom short codes are used only for generation_type "2".
    """
    resolve = body["resolve_task"]
    params: list[dict[str, Any]] = resolve["params"]
    custom = links[0] == "2"
    cust_flags, mobiles, codes, failed = _split_flags(params, custom)
    outcomes, due = state.draw_delivery(len(mobiles))
    now = time.time()
    task = SmartTask(
        task_id=state.new_id(),
        task_name=body["task_name"],
        created=now,
        tpl_id=resolve["tpl_id"],
        tpl_name=_name(template),
        sms_channel=body["sms_channel"],
        resolve_task={k: val for k, val in resolve.items() if k != "params"},
        first_param=params[0],
        submission_count=len(params),
        failed=failed,
        cust_flags=cust_flags,
        mobiles=mobiles,
        outcomes=outcomes,
        report_at=due,
        link_base=state.store.allocate_links(len(mobiles)),
        domain=links[1],
        expire=now + days * DAY,
        short_codes=codes if custom else None,
    )
    state.store.smart[task.task_id] = task
    state.ledger.record("smart", mobiles, {"task_id": task.task_id, "task_name": task.task_name})
    return task


def _split_flags(
    params: list[dict[str, Any]], custom: bool
) -> tuple[list[str], list[str], list[str], list[dict[str, Any]]]:
    """(cust_flags, normalised mobiles, custom short codes) of the params whose cust_flag is a mainland
    mobile, and the failed links (KM.00001084) of the others."""
    flags: list[str] = list(map(_cust_flag, params))
    if all_normal(flags):  # the common case, without a call per number
        return flags, flags.copy(), [param["custom_short_code"] for param in params] if custom else [], []
    cust_flags: list[str] = []
    mobiles: list[str] = []
    codes: list[str] = []
    failed: list[dict[str, Any]] = []
    for param, flag in zip(params, flags, strict=True):
        mobile = normalize_mobile(flag)
        if mobile is None:
            failed.append(
                _param_mode(param, contract.KM_INVALID_MOBILE, "cust_flag is not a valid mobile number")
            )
            continue
        cust_flags.append(flag)
        mobiles.append(mobile)
        if custom:
            codes.append(param["custom_short_code"])
    return cust_flags, mobiles, codes, failed


def _name(template: dict[str, Any] | None) -> str | None:
    return template.get("tpl_name") if template else None


def _check_signs(signs: list[Any]) -> None:
    for sign in signs:
        if not isinstance(sign, str) or not sign.strip():
            bad(contract.KM_SIGN_EMPTY, "sms_signs must not contain empty signatures")
        if not _BRACKETS.isdisjoint(sign):
            bad(contract.KM_INVALID_PARAMETER, "sms_signs are given without brackets")


def _check_sms_channel(channel: dict[str, Any]) -> None:
    v.channel_number(channel, "channel_number")
    v.req_str(channel, "sms_sign", code=contract.KM_SIGN_EMPTY)
    tpl = channel.get("sms_tpl_id")  # the doc example sends a number, the SDK a string
    if not isinstance(tpl, str | int) or isinstance(tpl, bool) or not str(tpl).strip():
        bad(contract.KM_INVALID_PARAMETER, "sms_channel.sms_tpl_id is required")
    v.req_str(channel, "sms_app_name")


def _generation(obj: dict[str, Any]) -> tuple[str, str]:
    """(generation_type, link domain); a custom domain is required for custom short codes ("2")."""
    generation = obj.get("generation_type") or "1"
    if generation not in ("1", "2"):
        bad(contract.KM_INVALID_PARAMETER, "generation_type must be '1' or '2'")
    domain = v.opt_str(obj, "domain", contract.DOMAIN_MAX)
    if generation == "2" and not domain:
        bad(contract.KM_INVALID_PARAMETER, "domain is required when generation_type is 2")
    return generation, (domain if generation == "2" and domain else contract.LINK_DOMAIN)


def _check_link_params(
    params: list[Any], group: bool, generation: str, url_max: int, with_sms_params: bool = False
) -> None:
    """Per-link fields of resolve and send tasks; any violation rejects the whole call.

    This runs once per number on the hottest path, hence the all-good check over the whole call first,
    then the inline checks before the helpers that build the error message.
    """
    if generation != "2" and _plain_params_fit(params):
        return
    for param in params:
        if type(param) is not dict:
            bad(contract.KM_INVALID_PARAMETER, "params items must be objects")
        flag = param.get("cust_flag")
        if type(flag) is not str or not 0 < len(flag) <= contract.CUST_FLAG_MAX:
            v.req_str(param, "cust_flag", contract.CUST_FLAG_MAX)
        if len(param) > 1:
            _check_link_extras(param, group, generation, url_max, with_sms_params)


def _plain_params_fit(params: list[Any]) -> bool:
    """Whether every param holds just a valid cust_flag and (optionally) valid sms_params, as the engine
    sends them: such params pass :func:`_check_link_params` for any link type but custom short codes."""
    if set(map(type, params)) != {dict} or not _PLAIN_PARAM_KEYS.issuperset(chain.from_iterable(params)):
        return False
    if not v.all_fit(list(map(dict.get, params, repeat("cust_flag"))), str, 1, contract.CUST_FLAG_MAX):
        return False
    rows = [row for row in map(dict.get, params, repeat("sms_params")) if row is not None]
    return v.sms_params_fit(rows)


def _check_link_extras(
    param: dict[str, Any], group: bool, generation: str, url_max: int, with_sms: bool
) -> None:
    dync = param.get("dync_params")
    if dync is not None and (
        group or type(dync) is not dict or not all(type(x) is str for x in dync.values())
    ):
        bad(contract.KM_INVALID_PARAMETER, "dync_params must map names to strings, individual links only")
    url = param.get("custom_url")
    if url is not None and (type(url) is not str or len(url) > url_max or not url.startswith(_SCHEMES)):
        bad(
            contract.KM_INVALID_PARAMETER,
            f"custom_url must be an http(s) URL of at most {url_max} characters",
        )
    if generation == "2":
        low, high = contract.CUSTOM_SHORT_CODE_LEN
        code = v.req_str(param, "custom_short_code", high)
        if len(code) < low or not code.isascii() or not code.isalnum():
            bad(contract.KM_INVALID_PARAMETER, f"custom_short_code must be {low}-{high} letters or digits")
    if with_sms and param.get("sms_params") is not None:
        v.sms_params(param["sms_params"])


def _link_mode(param: dict[str, Any], domain: str, code: str, now: float, expire: float) -> dict[str, Any]:
    """CreateResolveTaskParamMode of a generated link."""
    mode = _param_mode(param, contract.RESULT_OK, None)
    mode.update(aim_url=f"{domain}/{code}", aim_code=code, generate_date=iso(now), expire_date=iso(expire))
    return mode


def _param_mode(param: dict[str, Any], result_code: str, message: str | None) -> dict[str, Any]:
    """CreateResolveTaskParamMode with every documented key; links fields empty."""
    return {
        "cust_flag": param.get("cust_flag"),
        "cust_id": None,
        "dync_params": param.get("dync_params"),
        "custom_url": param.get("custom_url"),
        "aim_url": None,
        "aim_code": None,
        "ext_data": None,
        "result_code": result_code,
        "error_message": message,
        "generate_date": None,
        "expire_date": None,
        "resolved_date": None,
        "resolved_times": 0,
        "custom_short_code": param.get("custom_short_code"),
    }
