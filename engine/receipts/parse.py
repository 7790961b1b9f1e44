"""The provider's callback formats (contract §3.8, §7) → frozen ``Receipt`` and ``Reply`` records.

One parser per route. A malformed request (not JSON, wrong shape) raises ``BadReceipt``; an item inside a
well-formed request that lacks what we need (no number, no task id or reference) is dropped and counted,
since the provider would only post it again unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import parse_qsl

import orjson

from engine.errors import BadReceipt

ReceiptChannel = Literal["smart", "sms", "basic"]
ReceiptKind = Literal["delivery", "resolve"]
DELIVERED: Final = "DELIVRD"
# "DELIVRD" per the status table; the doc's sample spells it "Deliverd"
_DELIVERED_SPELLINGS: Final = frozenset({"DELIVRD", "DELIVERD", "DELIVERED"})
# numbers as the provider echoes them: 11 digits, optionally +86 / 0086 / 86 in front
_NUMBER: Final = re.compile(r"(?:\+?86|0086)?(1[3-9]\d{9})")
_STATUS_CHARS: Final = re.compile(r"[^A-Za-z0-9._-]")
_STATUS_MAX: Final = 32


@dataclass(frozen=True, slots=True)
class Receipt:
    """One number's outcome on one channel: delivered or not with the provider status, or a link resolve.

    ``ref`` (the chunk reference ``<cid>:<batch>:<stage>:<k>``) is known when the report echoes it (SMS
    ``extend``); otherwise ``task_id`` is looked up in the task map.
    """

    channel: ReceiptChannel
    number: str
    ok: bool
    status: str
    task_id: str = ""
    ref: str = ""
    kind: ReceiptKind = "delivery"


@dataclass(frozen=True, slots=True)
class Reply:
    """An uplink (MO) message: who replied and what they wrote; ``task_id`` of the basic-edition task it
    answers (the basic edition names it; an SMS uplink does not)."""

    number: str
    text: str
    task_id: str = ""


@dataclass(frozen=True, slots=True)
class Parsed:
    """What one callback request carried; ``dropped`` counts items without a usable number or key."""

    receipts: tuple[Receipt, ...] = ()
    replies: tuple[Reply, ...] = ()
    dropped: int = 0


def number_of(value: Any) -> str | None:
    """The 11-digit number in a provider field (``13800138000``, ``+8613800138000``), else None."""
    match = _NUMBER.fullmatch(str(value).strip()) if value is not None else None
    return match.group(1) if match else None


def _status(value: Any) -> str:
    """A provider status code fit for a counter name: no spaces or colons, at most 32 characters."""
    return _STATUS_CHARS.sub("", str(value))[:_STATUS_MAX] or "UNKNOWN"


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadReceipt("body is not JSON") from None


def _form(body: bytes) -> dict[str, str]:
    try:
        return dict(parse_qsl(body.decode(), keep_blank_values=True))
    except UnicodeDecodeError:
        raise BadReceipt("form body is not UTF-8") from None


def _items(container: Any, key: str) -> list[Mapping[str, Any]]:
    """``container[key]`` as a list of objects; BadReceipt when the shape is wrong."""
    items = container.get(key) if isinstance(container, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise BadReceipt(f"expected an object with a list of objects under {key!r}")
    return items


def _collect(items: list[Any], build: Callable[[Any], Receipt | Reply | None]) -> Parsed:
    built = [build(item) for item in items]
    receipts = tuple(b for b in built if isinstance(b, Receipt))
    replies = tuple(b for b in built if isinstance(b, Reply))
    return Parsed(receipts, replies, dropped=len(built) - len(receipts) - len(replies))


# -- smart messages -------------------------------------------------------------------------------------
def _smart_bodies(envelope: Any) -> Iterator[tuple[str, Any]]:
    """(callback_type, SmsCallback / ShortChainCallback) of one envelope; ``body`` is a JSON string of one
    object (url_type 0) or of an array of them (url_type 2)."""
    if not isinstance(envelope, dict) or not isinstance(envelope.get("body"), str):
        raise BadReceipt("expected {callback_type, body: <JSON string>, ...}")
    inner = _json(envelope["body"].encode())
    kind = str(envelope.get("callback_type", "sms"))
    for item in inner if isinstance(inner, list) else [inner]:
        yield kind, item


def _smart_item(kind: str, item: Any) -> Receipt | None:
    if not isinstance(item, dict):
        return None
    number, task_id = number_of(item.get("cust_flag")), str(item.get("task_id") or "")
    if number is None or not task_id:
        return None
    if kind == "shortchain":
        ok = str(item.get("status")) == "0"
        return Receipt("smart", number, ok, _status(item.get("status")), task_id, kind="resolve")
    raw = _status(item.get("send_status"))
    ok = raw.upper() in _DELIVERED_SPELLINGS
    return Receipt("smart", number, ok, DELIVERED if ok else raw, task_id)


def parse_smart(body: bytes) -> Parsed:
    """Smart-message receipts: one envelope, or a JSON array of envelopes."""
    data = _json(body)
    pairs = [
        pair for envelope in (data if isinstance(data, list) else [data]) for pair in _smart_bodies(envelope)
    ]
    return _collect(pairs, lambda pair: _smart_item(*pair))


# -- basic edition --------------------------------------------------------------------------------------
def _basic_item(item: Mapping[str, Any]) -> Receipt | None:
    number, task_id = number_of(item.get("mobile")), str(item.get("task_id") or "")
    if number is None or not task_id:
        return None
    ok = str(item.get("status")) == "0"
    status = DELIVERED if ok else _status(item.get("code") or item.get("status"))
    return Receipt("basic", number, ok, status, task_id)


def parse_basic(body: bytes) -> Parsed:
    """Basic-edition send receipts ``{"seq_id", "reports": [{task_id, mobile, status, code, ...}]}``."""
    return _collect(_items(_json(body), "reports"), _basic_item)


def _basic_reply(item: Mapping[str, Any]) -> Reply | None:
    """A reply naming the task it answers (without one it could not be checked: dropped)."""
    number = number_of(item.get("mobile"))
    text = item.get("content", item.get("body"))
    task_id = str(item.get("task_id") or "")
    return Reply(number, str(text), task_id) if number is not None and text is not None and task_id else None


def parse_basic_uplink(body: bytes) -> Parsed:
    """Basic-edition uplink ``{"seq_id", "replies": [{task_id, mobile, content, rtime}]}``."""
    return _collect(_items(_json(body), "replies"), _basic_reply)


# -- plain SMS (KooMessage /v1/aim/sms and Message&SMS statusCallback, form-encoded) --------------------
def parse_sms(body: bytes) -> Parsed:
    """One status report: ``smsMsgId, status, extend, to, updateTime, ...``; ``extend`` is our reference."""
    form = _form(body)
    if "status" not in form:
        raise BadReceipt("SMS status report without status")
    number, ref = number_of(form.get("to")), form.get("extend", "")
    if number is None or not ref:
        return Parsed(dropped=1)
    raw = _status(form["status"])
    ok = raw.upper() in _DELIVERED_SPELLINGS
    receipt = Receipt("sms", number, ok, DELIVERED if ok else raw, ref=ref)
    return Parsed((receipt,))


def parse_sms_uplink(body: bytes) -> Parsed:
    """One uplink (MO) message: ``smsMsgId, from, to, body, createTime``."""
    form = _form(body)
    number = number_of(form.get("from"))
    if number is None or "body" not in form:
        return Parsed(dropped=1)
    return Parsed(replies=(Reply(number, form["body"]),))


PARSERS: Final[dict[str, Callable[[bytes], Parsed]]] = {
    "smart": parse_smart,
    "basic": parse_basic,
    "basic-uplink": parse_basic_uplink,
    "sms": parse_sms,
    "uplink": parse_sms_uplink,
}
