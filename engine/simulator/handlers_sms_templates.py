"""KooMessage SMS templates (短消息模板): list, detail and variables of the configured catalogue."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from engine.simulator import contract
from engine.simulator.state import STATE
from engine.simulator.templates import find_template
from engine.simulator.wire import bad, json_response, page_info, page_params

_HIDDEN = "variables"  # kept beside a catalogue entry, shown only by the variable endpoint
_FILTERS = ("template_id", "template_name", "template_type", "flow_status", "app_name")


def _info(template: dict[str, Any]) -> dict[str, Any]:
    """The SmsTemplateInfo keys of a catalogue entry."""
    return {k: v for k, v in template.items() if k != _HIDDEN}


def _find(request: web.Request) -> dict[str, Any]:
    template_id = request.match_info["template_id"]
    found = find_template(request.app[STATE].config.templates, "sms", template_id)
    if found is None:
        bad(contract.KM_TEMPLATE_NOT_FOUND, f"SMS template {template_id} does not exist")
    return found


async def list_aim_msg_template(request: web.Request) -> web.Response:
    """``GET /v1/sms/templates`` filtered by template_id, template_name, template_type, flow_status, app."""
    q, page = request.query, page_params(request.query)
    rows = [
        _info(t)
        for t in request.app[STATE].config.templates.get("sms", [])
        if all(q.get(name) in (None, "", t.get(name)) for name in _FILTERS)
    ]
    body = {"result": rows[page[0] : page[0] + page[1]], "page_info": page_info(page, len(rows))}
    return json_response(body)


async def show_aim_msg_template_detail(request: web.Request) -> web.Response:
    """``GET /v1/sms/templates/{template_id}``; an unknown id is KM.00001082."""
    return json_response(_info(_find(request)))


async def show_variables(request: web.Request) -> web.Response:
    """``GET /v1/sms/templates/{template_id}/variable``: VariableAttributesResponse items and their total."""
    variables = list(_find(request).get(_HIDDEN) or [])
    return json_response({"results": variables, "total": len(variables)})
