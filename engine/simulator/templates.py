"""The simulator's catalogue (templates, channel numbers): defaults with every SDK model key, and lookups."""

from __future__ import annotations

from typing import Any, Literal

TemplateKind = Literal["smart", "basic", "sms"]
ID_KEYS: dict[str, str] = {"smart": "tpl_id", "basic": "tpl_id", "sms": "template_id"}
DEMO_SMART_TPL_ID = "100000001"
DEMO_BASIC_TPL_ID = "200000001"
DEMO_SMS_TPL_ID = "sms_tpl_1"  # carries the short link (NEWTEXT) after one TEXT variable
DEMO_PLAIN_SMS_TPL_ID = "sms_tpl_2"  # plain-SMS fallback: TEXT and MONEY, with an opt-out hint
DEMO_PORT = "10690000"
_CREATED = "2024-01-01T00:00:00Z"
_FACTORIES = ("HUAWEI", "XIAOMI", "OPPO", "VIVO", "MEIZU", "HONOR")


def default_templates() -> dict[str, list[dict[str, Any]]]:
    """One active smart template (AIMTemplate) and one usable basic-edition template (VmsTemplateStatus)."""
    smart = {
        "tpl_id": DEMO_SMART_TPL_ID,
        "tpl_name": "koodispatch demo",
        "scene": "marketing",
        "tpl_state": 1,  # 1 enabled
        "disable_desc": None,
        "disable_time": None,
        "audit_state": 2,  # 2 approved
        "audit_desc": "approved",
        "description": "【华为云】{name}，您的专属权益已到账，点击查看",
        "creation_time": _CREATED,
        "update_time": _CREATED,
        "pages": "[]",
        "params": [
            {
                "type": "string",
                "name": "name",
                "has_length": True,
                "fix_length": 0,
                "length_restrict": True,
                "min_length": 1,
                "max_length": 20,
            }
        ],
        "factory_info": [
            {"factory_type": f, "state": 1, "version": "1.0", "tpl_id": DEMO_SMART_TPL_ID} for f in _FACTORIES
        ],
        "match_type": 1,
        "card_id": "1",
        "sub_type": 0,
        "preview_url": None,
    }
    basic = {
        "tpl_id": DEMO_BASIC_TPL_ID,
        "audit_state": 0,  # 0 usable
        "audit_desc": "normal",
        "tpl_size": 102400,
        "valid_time": "0",
        "status_detail": [{"carrier": c, "status": 0, "desc": "normal"} for c in ("cmcc", "cucc", "ctcc")],
        "preview_url": None,
        "tpl_name": "koodispatch demo video",
        "title": "demo",
        "tpl_sign": "华为云",
        "create_time": _CREATED,
        "var_info": [{"name": "#p_1#", "type": "txt"}],
        "restags": "三网一般",
    }
    sms = [
        sms_template(
            DEMO_SMS_TPL_ID, "${1}您好，您的专属权益已到账，点击${2}查看", "NOTIFY_TYPE", ["TEXT", "NEWTEXT"]
        ),
        sms_template(
            DEMO_PLAIN_SMS_TPL_ID,
            "${1}您好，您有${2}元优惠券待领取，拒收请回复R",
            "PROMOTION_TYPE",
            ["TEXT", "MONEY"],
        ),
    ]
    return {"smart": [smart], "basic": [basic], "sms": sms}


def sms_template(
    template_id: str,
    content: str,
    template_type: str,
    variable_types: list[str],
    flow_status: str = "Adopted",
) -> dict[str, Any]:
    """A KooMessage SMS template (SmsTemplateInfo keys) plus ``variables`` (VariableAttributesResponse),
    which only ``GET /v1/sms/templates/{id}/variable`` shows."""
    variables = [
        {
            "id": i,
            "variable_index": i,
            "variable_length": 99 if kind == "NEWTEXT" else 20,
            "variable_type": kind,
            "variable_desc": kind.lower(),
        }
        for i, kind in enumerate(variable_types, start=1)
    ]
    return {
        "template_id": template_id,
        "template_name": template_id,
        "create_time": _CREATED,
        "template_type": template_type,
        "app_id": "sim-app-1",
        "app_name": "demo-app",
        "signature_id": "sim-sign-1",
        "template_content": content,
        "template_desc": "simulated",
        "has_variable": "true" if variables else "false",
        "flow_status": flow_status,
        "status": "1",
        "universal_template": 0,
        "urge_status": None,
        "urge_time": None,
        "urge_desc": None,
        "review_desc": None,
        "variables": variables,
    }


def default_ports() -> list[dict[str, Any]]:
    """The demo channel number (PortInfo of ``GET /v1/aim-sa/ports``), bound to the demo service number."""
    return [
        {
            "id": "sim-port-1",
            "create_time": _CREATED,
            "pub_id": "sim-pub-1",
            "port": DEMO_PORT,
            "sign": ["华为云"],
            "authorization_files": {},
            "pub_name": "koodispatch",
            "port_type": 1,
            "sign_check": 0,
            "province": None,
            "is_bind": 1,
            "pub_list": [{"pub_name": "koodispatch", "pub_reference": None}],
        }
    ]


def find_template(
    templates: dict[str, list[dict[str, Any]]], kind: TemplateKind, tpl_id: str
) -> dict[str, Any] | None:
    """The configured template with this id, or None."""
    for template in templates.get(kind, ()):
        if template.get(ID_KEYS[kind]) == tpl_id:
            return template
    return None
