"""Basic edition (video SMS, ``/v1/aim-basic``): send tasks of ≤5000 numbers and their task list."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from engine.simulator import contract
from engine.simulator import validate as v
from engine.simulator.capability import normalize_mobile
from engine.simulator.handlers_query import matches
from engine.simulator.reports import schedule_basic
from engine.simulator.state import STATE
from engine.simulator.store import DELIVERED, BasicTask
from engine.simulator.wire import (
    STATUS_OK,
    bad,
    iso,
    json_response,
    page_info,
    page_params,
    read_json,
    time_window,
)


async def create_vms_send_task(request: web.Request) -> web.Response:
    """``POST /v1/aim-basic/send-tasks``: ``mobiles`` xor ``individual_params``, ≤5000 numbers in total.

    Numbers that are not mainland mobiles are dropped silently (total_count counts valid numbers only,
    as documented); the valid ones are ledgered with task_name and exdata.
    """
    state = request.app[STATE]
    body = await read_json(request)
    task_name = v.req_str(body, "task_name")
    tpl = v.tpl_id(body)
    template = v.template(state.config, "basic", tpl)
    v.req_int(
        body, "expiration_time", contract.VMS_EXPIRATION_HOURS, default=contract.VMS_EXPIRATION_DEFAULT_HOURS
    )
    exdata = v.opt_str(body, "exdata", contract.EXDATA_MAX)
    numbers = _numbers(body)
    state.admit("basic", len(numbers))
    mobiles = [m for m in map(normalize_mobile, numbers) if m is not None]
    outcomes, due = state.draw_delivery(len(mobiles))
    tpl_name = template.get("tpl_name") if template else None
    task = BasicTask(state.new_id(), task_name, time.time(), tpl, tpl_name, exdata, mobiles, outcomes, due)
    state.store.basic[task.task_id] = task
    state.ledger.record(
        "basic", mobiles, {"task_id": task.task_id, "task_name": task_name, "exdata": exdata or ""}
    )
    schedule_basic(state, task)
    return json_response(
        {**STATUS_OK, "data": {"ret_code": contract.BASIC_RET_OK, "task_id": task.task_id, "desc": "success"}}
    )


def _numbers(body: dict[str, Any]) -> list[str]:
    """All numbers of the call, from ``mobiles`` or from every ``individual_params`` item."""
    if body.get("mobiles") is not None and body.get("individual_params") is not None:
        bad(contract.KM_INVALID_PARAMETER, "mobiles and individual_params are mutually exclusive")
    most, over = contract.BASIC_MAX_MOBILES, contract.KM_TOO_MANY_NUMBERS
    if body.get("individual_params") is None:
        numbers = v.req_list(body, "mobiles", contract.KM_PHONE_LIST_EMPTY, most, over)
        _content_params(body.get("dync_params"))
    else:
        numbers = []
        for item in v.req_list(body, "individual_params", contract.KM_EMPTY_PARAMS, most, over):
            if not isinstance(item, dict):
                bad(contract.KM_INVALID_PARAMETER, "individual_params items must be objects")
            numbers += v.req_list(item, "mobiles", contract.KM_PHONE_LIST_EMPTY, most, over)
            _content_params(item.get("dync_params"))
        if len(numbers) > most:
            bad(over, f"{len(numbers)} numbers in one call, at most {most}")
    return v.string_items(numbers, "mobile", contract.SMS_TO_ITEM_MAX)


def _content_params(value: Any) -> None:
    """ContentParam list: ≤100 items, param_name ≤64, content_detail ≤256."""
    if value is None:
        return
    if not isinstance(value, list) or len(value) > contract.BASIC_MAX_DYNC_PARAMS:
        bad(
            contract.KM_INVALID_PARAMETER,
            f"dync_params must be a list of at most {contract.BASIC_MAX_DYNC_PARAMS}",
        )
    for item in value:
        if not isinstance(item, dict):
            bad(contract.KM_INVALID_PARAMETER, "dync_params items must be objects")
        v.req_str(item, "param_name", contract.PARAM_NAME_MAX)
        v.opt_str(item, "content_detail", contract.CONTENT_DETAIL_MAX)


async def list_vms_send_tasks(request: web.Request) -> web.Response:
    """``GET /v1/aim-basic/send-tasks`` by task_name, task_id, tpl_id, tpl_name, task_status, times."""
    q, page = request.query, page_params(request.query)
    created, sent = time_window(q), time_window(q, "send_")
    now = time.time()
    rows = [
        _task_row(t, now)
        for t in request.app[STATE].store.basic.values()
        if matches(
            q, created, t.created, {"task_id": t.task_id, "task_name": t.task_name, "tpl_id": t.tpl_id}
        )
        and matches(q, sent, t.created, {"tpl_name": t.tpl_name})
    ]
    rows = [
        r for r in rows if matches(q, None, 0, {"task_status": r["task_state"], "operator": r["operator"]})
    ]
    data = {
        "aim_basic_send_tasks": rows[page[0] : page[0] + page[1]],
        "page_info": page_info(page, len(rows)),
    }
    return json_response({**STATUS_OK, "data": data})


def _task_row(task: BasicTask, now: float) -> dict[str, Any]:
    reported = now >= task.report_at
    success = task.outcomes.count(DELIVERED) if reported else 0
    return {
        "task_id": task.task_id,
        "task_name": task.task_name,
        "task_state": "sending_complete" if reported else "processing",
        "tpl_id": task.tpl_id,
        "tpl_name": task.tpl_name,
        "operator": "api",
        "create_time": iso(task.created),
        "send_time": iso(task.created),
        "total_count": len(task.mobiles),
        "success_count": success,
        "failed_count": len(task.mobiles) - success if reported else 0,
        "timeout_count": 0,
        "exdata": task.exdata,
    }
