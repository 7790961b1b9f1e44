"""Smart-message queries: tasks, per-number details and reports, answered from the in-memory store.

These are what a client uses to reconcile after a crash: find a send task by task_name / task_id, then
its numbers by cust_flag with their send_status.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import Any

from aiohttp import web

from engine.simulator import contract
from engine.simulator import validate as v
from engine.simulator.capability import normalize_mobile
from engine.simulator.state import STATE
from engine.simulator.store import DELIVERED, ResolveTask, SmartTask, delivery_status
from engine.simulator.wire import (
    STATUS_OK,
    Page,
    bad,
    iso,
    iso_ms,
    json_response,
    page_info,
    page_params,
    read_json,
    time_window,
)

Row = dict[str, Any]
Window = tuple[float, float] | None
Group = tuple[Sequence[int], Callable[[int], Row]]


def matches(query: Mapping[str, Any], window: Window, created: float, fields: Mapping[str, Any]) -> bool:
    """Whether a task passes the time window and every exact-match filter present in ``query``."""
    if window is not None and not window[0] <= created <= window[1]:
        return False
    return all(query.get(name) in (None, "", value) for name, value in fields.items())


def paged(groups: Iterable[Group], page: Page) -> tuple[list[Row], int]:
    """One page of rows across groups of (row indices, row builder); builds only the rows on the page."""
    offset, limit = page
    rows: list[Row] = []
    total = 0
    for indices, row in groups:
        start = max(0, offset - total)
        if len(rows) < limit and start < len(indices):
            rows.extend(row(i) for i in indices[start : start + limit - len(rows)])
        total += len(indices)
    return rows, total


def _selected(task: SmartTask, cust_flag: str | None) -> Sequence[int]:
    """Indices of the task's numbers matching a cust_flag filter (as sent or normalised)."""
    if not cust_flag:
        return range(len(task.mobiles))
    mobile = normalize_mobile(cust_flag)
    return [
        i
        for i, (flag, m) in enumerate(zip(task.cust_flags, task.mobiles, strict=True))
        if cust_flag in (flag, m) or m == mobile
    ]


async def list_aim_send_tasks(request: web.Request) -> web.Response:
    """``GET /v1/aim/send-tasks`` filtered by task_id, task_name, tpl_id, tpl_name, task_status, time."""
    q, page, window = request.query, page_params(request.query), time_window(request.query)
    now = time.time()
    tasks = [
        t
        for t in request.app[STATE].store.smart.values()
        if matches(q, window, t.created, {"task_id": t.task_id, "task_name": t.task_name, "tpl_id": t.tpl_id})
        and matches(q, None, 0, {"tpl_name": t.tpl_name, "task_status": "Success" if t.mobiles else "Fail"})
    ]
    rows = [_send_task_row(t, now) for t in tasks[page[0] : page[0] + page[1]]]
    return json_response({"aim_send_tasks": rows, "page_info": page_info(page, len(tasks))})


def _send_task_row(task: SmartTask, now: float) -> Row:
    first = task.first_param or {}
    keys = ("tpl_id", "resolve_times", "aim_code_type", "domain", "expiration_time")
    resolve = {k: task.resolve_task.get(k) for k in keys}
    resolve["params"] = (
        [{k: first.get(k) for k in ("cust_flag", "dync_params", "custom_url")}] if first else []
    )
    reported = now >= task.report_at
    return {
        "task_name": task.task_name,
        "sms_channel": {
            k: task.sms_channel.get(k) for k in ("channel_number", "sms_tpl_id", "sms_sign", "sms_app_name")
        },
        "resolve_task": resolve,
        "task_id": task.task_id,
        "task_state": contract.TASK_SUCCESS if task.mobiles else contract.TASK_FAILED,
        "creation_time": iso_ms(task.created),
        "submission_count": task.submission_count,
        "send_count": len(task.mobiles),
        "resolve_count": 0,
        "support_resolve_count": -1,
        "failed_short_chains": task.failed,
        "success_number": task.outcomes.count(DELIVERED) if reported else 0,
    }


async def list_aim_send_details(request: web.Request) -> web.Response:
    """``GET /v1/aim/send-details`` by task_id, tpl_id, sms_sign, cust_flag, time; offset/limit required."""
    q, page, window = request.query, page_params(request.query, required=True), time_window(request.query)
    now = time.time()
    groups = (
        (_selected(t, q.get("cust_flag")), partial(_send_detail, t, now))
        for t in request.app[STATE].store.smart.values()
        if matches(
            q,
            window,
            t.created,
            {"task_id": t.task_id, "tpl_id": t.tpl_id, "sms_sign": t.sms_channel.get("sms_sign")},
        )
    )
    rows, total = paged(groups, page)
    return json_response({"send_details": rows, "page_info": page_info(page, total)})


def _send_detail(task: SmartTask, now: float, index: int) -> Row:
    status = delivery_status(task.outcomes[index], task.report_at, now)
    return {
        "msg_id": task.msg_id(index),
        "task_id": task.task_id,
        "task_name": task.task_name,
        "tpl_id": task.tpl_id,
        "tpl_name": task.tpl_name,
        "cust_flag": task.cust_flags[index],
        "send_account": task.mobiles[index],
        "send_status": status,
        "send_time": iso(task.created),
        "receive_time": None if status == "sending" else iso(task.report_at),
        "result_code": None if status == "sending" else task.outcomes[index],
    }


async def list_resolve_tasks(request: web.Request) -> web.Response:
    """``GET /v1/aim/resolve-tasks`` filtered by task_id, tpl_id, tpl_name, cust_flag, aim_url, time."""
    q, page, window = request.query, page_params(request.query), time_window(request.query)
    tasks = [
        t
        for t in request.app[STATE].store.resolve.values()
        if matches(
            q,
            window,
            t.created,
            {"task_id": t.task_id, "task_name": None, "tpl_id": t.tpl_id, "tpl_name": t.tpl_name},
        )
        and _has_link(t, q.get("cust_flag"), q.get("aim_url"))
    ]
    rows = [_resolve_task_row(t) for t in tasks[page[0] : page[0] + page[1]]]
    return json_response({"resolve_tasks": rows, "page_info": page_info(page, len(tasks))})


def _has_link(task: ResolveTask, cust_flag: str | None, aim_url: str | None) -> bool:
    return all(
        any(p.get(key) == value for p in task.params)
        for key, value in (("cust_flag", cust_flag), ("aim_url", aim_url))
        if value
    )


def _resolve_task_row(task: ResolveTask) -> Row:
    first = task.params[:1]
    return {
        "task_id": task.task_id,
        "task_name": None,
        **task.request,
        "params": [{k: p[k] for k in p if k != "custom_short_code"} for p in first],
    }


async def list_aim_resolve_details(request: web.Request) -> web.Response:
    """``GET /v1/aim/resolve-details`` over resolve tasks and send tasks (task_id accepts either)."""
    q, page, window = request.query, page_params(request.query, required=True), time_window(request.query)
    if q.get("resolved_status") not in (None, "", "unresolved"):  # the simulator never resolves a link
        return json_response({"resolve_details": [], "page_info": page_info(page, 0)})
    store = request.app[STATE].store
    groups = [g for r in store.resolve.values() if (g := _resolve_links(r, q, window))]
    groups += [g for t in store.smart.values() if (g := _send_links(t, q, window))]
    rows, total = paged(groups, page)
    return json_response({"resolve_details": rows, "page_info": page_info(page, total)})


def _resolve_links(task: ResolveTask, q: Mapping[str, str], window: Window) -> Group | None:
    fields = {"task_id": task.task_id, "task_name": None, "tpl_id": task.tpl_id, "tpl_name": task.tpl_name}
    if not matches(q, window, task.created, fields) or q.get("sms_sign") not in (
        None,
        "",
        *task.request["sms_signs"],
    ):
        return None
    link_filter = (("cust_flag", q.get("cust_flag")), ("aim_url", q.get("aim_url")))
    indices = [i for i, p in enumerate(task.params) if all(p[k] == val for k, val in link_filter if val)]
    return indices, partial(_resolve_link_row, task)


def _send_links(task: SmartTask, q: Mapping[str, str], window: Window) -> Group | None:
    fields: dict[str, Any] = {"task_id": task.task_id, "task_name": task.task_name, "tpl_id": task.tpl_id}
    fields.update(tpl_name=task.tpl_name, sms_sign=task.sms_channel.get("sms_sign"))
    if not matches(q, window, task.created, fields):
        return None
    aim_url = q.get("aim_url")
    indices = [i for i in _selected(task, q.get("cust_flag")) if not aim_url or task.aim_url(i) == aim_url]
    return indices, partial(_send_link_row, task)


def _resolve_link_row(task: ResolveTask, index: int) -> Row:
    param = task.params[index]
    row = _link_row(task.task_id, None, task.tpl_id, task.tpl_name, task.created)
    row.update(resolve_id=f"{task.task_id}_{index}", cust_flag=param["cust_flag"], aim_url=param["aim_url"])
    row.update(expire_date=param["expire_date"])
    return row


def _send_link_row(task: SmartTask, index: int) -> Row:
    row = _link_row(task.task_id, task.task_name, task.tpl_id, task.tpl_name, task.created)
    row.update(resolve_id=task.msg_id(index), cust_flag=task.cust_flags[index], aim_url=task.aim_url(index))
    row.update(send_account=task.mobiles[index], expire_date=iso(task.expire))
    return row


def _link_row(task_id: str, task_name: str | None, tpl_id: str, tpl_name: str | None, created: float) -> Row:
    """AIMResolveDetail with the task's fields; the link's own fields are filled in by the caller."""
    return {
        "resolve_id": None,
        "task_id": task_id,
        "task_name": task_name,
        "send_account": None,
        "tpl_id": tpl_id,
        "tpl_name": tpl_name,
        "cust_flag": None,
        "aim_url": None,
        "result_code": contract.RESULT_OK,
        "generate_date": iso(created),
        "expire_date": None,
        "resolved_time": None,
        "resolved_status": "unresolved",
    }


async def list_aim_send_reports(request: web.Request) -> web.Response:
    """``POST /v1/aim/send-reports``: day (report_type 1) or month (2) totals per template."""
    body = await read_json(request)
    report_type = str(body.get("report_type") or "1")
    if report_type not in ("1", "2"):
        bad(contract.KM_INVALID_PARAMETER, "report_type must be '1' (day) or '2' (month)")
    page, window = page_params(body), time_window(body)
    now = time.time()
    totals: dict[tuple[str, str], Row] = {}
    for t in request.app[STATE].store.smart.values():
        if not matches(body, window, t.created, {"tpl_id": t.tpl_id, "tpl_name": t.tpl_name}):
            continue
        period = time.strftime(
            "%Y-%m-01T00:00:00Z" if report_type == "2" else "%Y-%m-%dT00:00:00Z", time.gmtime(t.created)
        )
        row = totals.setdefault((period, t.tpl_id), _report_row(period, t))
        row["submission_count"] += t.submission_count
        row["send_count"] += len(t.mobiles)
        row["send_success_count"] += t.outcomes.count(DELIVERED) if now >= t.report_at else 0
    rows = [totals[key] for key in sorted(totals)]
    data = {"data_list": rows[page[0] : page[0] + page[1]], "page_info": page_info(page, len(rows))}
    return json_response({**STATUS_OK, "data": data})


def _report_row(period: str, task: SmartTask) -> Row:
    return {
        "report_time": period,
        "tpl_id": task.tpl_id,
        "tpl_name": task.tpl_name,
        "submission_count": 0,
        "support_resolve_count": -1,
        "send_count": 0,
        "send_success_count": 0,
        "resolve_success_count": 0,
    }


async def list_aim_template_reports(request: web.Request) -> web.Response:
    """``POST /v1/aim/template-reports/query``: ≤100 tpl_ids over ≤90 days (exposure is not simulated)."""
    body = await read_json(request)
    ids = v.req_list(
        body,
        "tpl_ids",
        contract.KM_EMPTY_INPUT,
        contract.TEMPLATE_REPORT_MAX_IDS,
        contract.KM_INVALID_PARAMETER,
    )
    v.string_items(ids, "tpl_id", contract.TPL_ID_DIGITS)
    window = time_window(body)
    if window is None:
        bad(contract.KM_INVALID_PARAMETER, "begin_time and end_time are required")
    if not 0 <= window[1] - window[0] <= contract.TEMPLATE_REPORT_MAX_DAYS * 86400:
        bad(
            contract.KM_INVALID_PARAMETER,
            f"the time window must be 0-{contract.TEMPLATE_REPORT_MAX_DAYS} days",
        )
    page = page_params(body)
    counters = dict.fromkeys(("resolving_times", "expose_uv", "expose_pv", "click_uv", "click_pv"), 0)
    rows = [
        {"tpl_id": tpl, "start_time": iso(window[0]), "end_time": iso(window[1]), **counters} for tpl in ids
    ]
    return json_response(
        {"template_reports": rows[page[0] : page[0] + page[1]], "page_info": page_info(page, len(rows))}
    )
