"""The simulator's template catalogue: defaults with every SDK model key, and the send-time lookup."""

from __future__ import annotations

from typing import Any, Literal

TemplateKind = Literal["smart", "basic"]
DEMO_SMART_TPL_ID = "100000001"
DEMO_BASIC_TPL_ID = "200000001"
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
    return {"smart": [smart], "basic": [basic]}


def find_template(
    templates: dict[str, list[dict[str, Any]]], kind: TemplateKind, tpl_id: str
) -> dict[str, Any] | None:
    """The configured template with this id, or None."""
    for template in templates.get(kind, ()):
        if template.get("tpl_id") == tpl_id:
            return template
    return None
