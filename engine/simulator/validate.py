"""Field checks for request bodies; each failure rejects the whole call with HTTP 400 and a KM code."""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from itertools import chain
from typing import Any

from engine.simulator import contract
from engine.simulator.config import SimConfig
from engine.simulator.templates import TemplateKind, find_template
from engine.simulator.wire import bad

INVALID = contract.KM_INVALID_PARAMETER
_NO_FORBIDDEN = contract.SMS_PARAM_FORBIDDEN.isdisjoint
_FORBIDDEN = re.compile("[" + re.escape("".join(sorted(contract.SMS_PARAM_FORBIDDEN))) + "]")


def req_str(obj: Mapping[str, Any], key: str, max_len: int | None = None, code: str = INVALID) -> str:
    """A required non-blank string of at most ``max_len`` characters."""
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        bad(code, f"{key} is required and must be a non-empty string")
    if max_len is not None and len(value) > max_len:
        bad(code, f"{key} must be at most {max_len} characters")
    return value


def opt_str(obj: Mapping[str, Any], key: str, max_len: int | None = None, code: str = INVALID) -> str | None:
    """An optional string (None when absent) of at most ``max_len`` characters."""
    if obj.get(key) is None:
        return None
    value = obj[key]
    if not isinstance(value, str):
        bad(code, f"{key} must be a string")
    if max_len is not None and len(value) > max_len:
        bad(code, f"{key} must be at most {max_len} characters")
    return value


def req_int(obj: Mapping[str, Any], key: str, span: tuple[int, int], default: int | None = None) -> int:
    """An integer within ``span`` (inclusive); ``default`` when absent, required when no default."""
    value = obj.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        bad(INVALID, f"{key} is required and must be an integer")
    if not span[0] <= value <= span[1]:
        bad(INVALID, f"{key} must be between {span[0]} and {span[1]}")
    return value


def req_list(obj: Mapping[str, Any], key: str, empty_code: str, max_items: int, over_code: str) -> list[Any]:
    """A required non-empty list of at most ``max_items`` (else ``empty_code`` / ``over_code``)."""
    value = obj.get(key)
    if value is None or value == []:
        bad(empty_code, f"{key} is empty")
    if not isinstance(value, list):
        bad(INVALID, f"{key} must be a list")
    if len(value) > max_items:
        bad(over_code, f"{key} has {len(value)} items, at most {max_items} are allowed per request")
    return value


def req_object(obj: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key)
    if not value:
        bad(contract.KM_EMPTY_INPUT, f"{key} is required")
    if not isinstance(value, dict):
        bad(INVALID, f"{key} must be an object")
    return value


def tpl_id(obj: Mapping[str, Any], key: str = "tpl_id") -> str:
    """A template id of exactly 9 digits."""
    value = obj.get(key)
    if not isinstance(value, str) or len(value) != contract.TPL_ID_DIGITS or not value.isdigit():
        bad(INVALID, f"{key} must be {contract.TPL_ID_DIGITS} digits")
    return value


def extend(obj: Mapping[str, Any], key: str = "extend") -> str | None:
    """The client's echo field: at most 128 characters and no braces."""
    value = opt_str(obj, key, contract.EXTEND_MAX)
    if value is not None and ("{" in value or "}" in value):
        bad(INVALID, f"{key} must not contain '{{' or '}}'")
    return value


def all_fit(items: list[Any], kind: type, min_len: int = 0, max_len: int = sys.maxsize) -> bool:
    """Whether every item is exactly a ``kind`` (``str`` or ``list``) of ``min_len``..``max_len`` long.

    The fast all-good check of a call's per-item fields on the hot paths, a few passes in C without a
    call per item; the item-by-item checks run only when it fails, to reject with their code and message.
    """
    if set(map(type, items)) - {kind}:
        return False
    lengths = set(map(len, items))
    return not lengths or (min(lengths) >= min_len and max(lengths) <= max_len)


def string_items(
    items: list[Any], name: str, max_len: int, code: str = INVALID, min_len: int = 1
) -> list[str]:
    """Every item a string of ``min_len``..``max_len`` characters."""
    for item in items:
        if not isinstance(item, str) or not min_len <= len(item) <= max_len:
            bad(code, f"each {name} must be a string of {min_len}-{max_len} characters")
    return items


def sms_params_fit(rows: list[Any]) -> bool:
    """Whether :func:`sms_params` accepts every row, checked over all rows of a call at once."""
    if not all_fit(rows, list, 0, contract.SMS_PARAMS_MAX):
        return False
    values = list(chain.from_iterable(rows))
    # NUL joins the values: it is allowed and in no forbidden set
    return all_fit(values, str, 1, contract.SMS_PARAM_MAX_LEN) and not _FORBIDDEN.search("\x00".join(values))


def sms_params(value: Any) -> None:
    """Smart-send sms_params: at most 19 values of 1-20 characters without ``.。'<>{}``."""
    if type(value) is not list:
        bad(INVALID, "sms_params must be a list")
    if len(value) > contract.SMS_PARAMS_MAX:
        bad(
            contract.KM_SMS_PARAM_COUNT,
            f"sms_params has {len(value)} values, at most {contract.SMS_PARAMS_MAX}",
        )
    for item in value:
        if (
            type(item) is not str
            or not 0 < len(item) <= contract.SMS_PARAM_MAX_LEN
            or not _NO_FORBIDDEN(item)
        ):
            bad(
                INVALID,
                f"sms_params values must be 1-{contract.SMS_PARAM_MAX_LEN} characters"
                " without . 。 ' < > { }",
            )


def template_params(value: Any, name: str) -> list[str]:
    """Plain-SMS template parameters: a list of at most 20 strings (None = no parameters)."""
    if value is None:
        return []
    if not isinstance(value, list):
        bad(INVALID, f"{name} must be a list")
    if len(value) > contract.TEMPLATE_PARAMS_MAX:
        bad(INVALID, f"{name} has {len(value)} values, at most {contract.TEMPLATE_PARAMS_MAX}")
    if not all(isinstance(item, str) for item in value):
        bad(INVALID, f"{name} values must be strings")
    return value


def channel_number(obj: Mapping[str, Any], key: str) -> str:
    """A sender channel number of 1-21 characters (KM.00001098 otherwise)."""
    value = obj.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not 1 <= len(value) <= contract.CHANNEL_NUM_MAX:
        bad(contract.KM_CHANNEL_NUMBER_LENGTH, f"{key} must be 1-{contract.CHANNEL_NUM_MAX} characters")
    return value


def template(config: SimConfig, kind: TemplateKind, tpl: str) -> dict[str, Any] | None:
    """The configured template a send may use: unknown ids are KM.00001082 (accepted when not strict),
    smart templates must be enabled and approved, basic ones usable (audit_state 0)."""
    found = find_template(config.templates, kind, tpl)
    if found is None:
        if config.strict_templates:
            bad(contract.KM_TEMPLATE_NOT_FOUND, f"template {tpl} does not exist")
        return None
    if kind == "smart" and (found.get("tpl_state") != 1 or found.get("audit_state") != 2):
        bad(INVALID, f"template {tpl} is not enabled and approved")
    if kind == "basic" and found.get("audit_state") != 0:
        bad(INVALID, f"template {tpl} is not usable (audit_state != 0)")
    return found
