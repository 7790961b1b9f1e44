"""Account-level calls: callback registration, template catalogues, service numbers and ports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from aiohttp import web

from engine.simulator import contract
from engine.simulator import validate as v
from engine.simulator.state import STATE
from engine.simulator.wire import STATUS_OK, bad, json_response, page_info, page_params, read_json

_URL_TYPES: dict[str, tuple[int, ...]] = {"smart": (0, 1, 2), "basic": (0, 1)}
_CREATED = "2024-01-01T00:00:00Z"


async def _register(request: web.Request, kind: Literal["smart", "basic"]) -> dict[str, Any]:
    """Store one callback URL per (kind, url_type); a new registration replaces the old one."""
    body = await read_json(request)
    url = v.req_str(body, "callback_url", contract.CALLBACK_URL_MAX)
    if not url.startswith(("http://", "https://")):
        bad(contract.KM_INVALID_PARAMETER, "callback_url must start with http:// or https://")
    url_type = body.get("url_type")
    if url_type not in _URL_TYPES[kind] or isinstance(url_type, bool):
        bad(contract.KM_INVALID_PARAMETER, f"url_type must be one of {list(_URL_TYPES[kind])}")
    state = request.app[STATE]
    record: dict[str, Any] = {"callback_url": url, "url_type": url_type}
    if kind == "smart":
        record["id"] = state.new_id()
    else:
        record["remark"] = v.opt_str(body, "remark", contract.CALLBACK_REMARK_MAX)
    state.store.callbacks[kind][url_type] = record
    return record


async def add_call_back(request: web.Request) -> web.Response:
    """``POST /v1/aim/callbacks``: url_type 0 single receipts, 1 template status, 2 batch receipts."""
    return json_response({**STATUS_OK, "data": await _register(request, "smart")})


async def list_aim_callbacks(request: web.Request) -> web.Response:
    """``GET /v1/aim/callbacks``."""
    records = list(request.app[STATE].store.callbacks["smart"].values())
    return json_response({**STATUS_OK, "data": records})


async def add_vms_call_back(request: web.Request) -> web.Response:
    """``POST /v1/aim-basic/callbacks``: url_type 0 send status, 1 uplink."""
    await _register(request, "basic")
    return json_response(STATUS_OK)


async def list_vms_callbacks(request: web.Request) -> web.Response:
    """``GET /v1/aim-basic/callbacks``."""
    records = list(request.app[STATE].store.callbacks["basic"].values())
    return json_response({**STATUS_OK, "data": {"callbacks": records}})


def _templates(
    request: web.Request, kind: Literal["smart", "basic"], param_key: str
) -> tuple[list[Any], Any]:
    """One page of the configured templates filtered by tpl_id, tpl_name (substring), has_param, factory."""
    q = request.query
    page = page_params(q)
    factories = {
        f.strip().upper() for value in q.getall("factory_type", []) for f in value.split(",") if f.strip()
    }
    rows = [
        t
        for t in request.app[STATE].config.templates.get(kind, [])
        if _template_matches(t, q, param_key, factories)
    ]
    return rows[page[0] : page[0] + page[1]], page_info(page, len(rows))


def _template_matches(
    template: dict[str, Any], q: Mapping[str, str], param_key: str, factories: set[str]
) -> bool:
    if q.get("tpl_id") and template.get("tpl_id") != q["tpl_id"]:
        return False
    if q.get("tpl_name") and q["tpl_name"] not in str(template.get("tpl_name", "")):
        return False
    if q.get("has_param") in ("true", "false") and bool(template.get(param_key)) != (
        q["has_param"] == "true"
    ):
        return False
    supported = {str(f.get("factory_type", "")).upper() for f in template.get("factory_info") or []}
    return not factories or bool(factories & supported)


async def list_aim_templates(request: web.Request) -> web.Response:
    """``GET /v1/aim/templates``: the configured smart templates (AIMTemplate)."""
    rows, info = _templates(request, "smart", "params")
    return json_response({"templates": rows, "page_info": info})


async def list_vms_template_status(request: web.Request) -> web.Response:
    """``GET /v1/aim-basic/templates``: the configured basic-edition templates (VmsTemplateStatus)."""
    rows, info = _templates(request, "basic", "var_info")
    return json_response({**STATUS_OK, "data": {"templates": rows, "page_info": info}})


async def list_pub_infos(request: web.Request) -> web.Response:
    """``GET /v1/aim-sa/pubs``: one active demo service number."""
    page = page_params(request.query)
    pub = {
        "pub_id": "sim-pub-1",
        "oper_time": _CREATED,
        "state": 2,
        "online_time": _CREATED,
        "company_name": "koodispatch demo",
        "pub_name": "koodispatch",
        "logo_img": None,
        "logo_url": None,
        "authorization_files": {},
        "auto_get_port": 0,
        "industry": 11,
        "pub_abstract": "simulated service number",
        "signs_for_auto_get_port": [],
        "company_id": "sim-company-1",
        "pub_remark": None,
        "approve_state": 2,
        "areas_for_auto_get_port": [],
    }
    return json_response(
        {"data": {"page_info": page_info(page, 1), "data": [pub][page[0] : page[0] + page[1]]}}
    )


async def list_port_infos(request: web.Request) -> web.Response:
    """``GET /v1/aim-sa/ports``: the configured channel numbers, filtered by port and is_bind."""
    q, page = request.query, page_params(request.query)
    ports = [
        p
        for p in request.app[STATE].config.ports
        if q.get("port") in (None, "", p["port"]) and q.get("is_bind") in (None, "", str(p.get("is_bind")))
    ]
    return json_response(
        {"data": {"page_info": page_info(page, len(ports)), "data": ports[page[0] : page[0] + page[1]]}}
    )
