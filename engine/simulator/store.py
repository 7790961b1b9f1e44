"""In-memory tasks of the simulator: what the query endpoints answer from after a client crash.

Per-number data is kept as parallel lists (as sent, normalised, outcome) rather than one object per number;
message ids and short links are derived from the task id / a link counter instead of being stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from engine.simulator import contract

DELIVERED = "DELIVRD"
_CODE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CODE_SPACE = 62**contract.SHORT_CODE_LEN
_CODE_STRIDE = 1_000_003  # prime, so seq -> seq * stride mod 62**6 is a bijection that looks random

SendStatus = Literal["success", "fail", "sending"]


def aim_code(seq: int) -> str:
    """The 6-character short code of link number ``seq`` (unique for 62**6 links)."""
    value = seq * _CODE_STRIDE % _CODE_SPACE
    chars = []
    for _ in range(contract.SHORT_CODE_LEN):
        value, digit = divmod(value, 62)
        chars.append(_CODE_ALPHABET[digit])
    return "".join(chars)


def delivery_status(outcome: str, report_at: float, now: float) -> SendStatus:
    """What a query shows for one number: ``sending`` until its report is due, then success or fail."""
    if now < report_at:
        return "sending"
    return "success" if outcome == DELIVERED else "fail"


@dataclass(frozen=True, slots=True)
class SmartTask:
    """One accepted ``POST /v1/aim/send-tasks``; per-number lists cover the accepted numbers only."""

    task_id: str
    task_name: str
    created: float
    tpl_id: str
    tpl_name: str | None
    sms_channel: dict[str, Any]
    resolve_task: dict[str, Any]  # the request's resolve_task without params
    first_param: dict[str, Any] | None
    submission_count: int
    failed: list[dict[str, Any]]  # failed_short_chains as answered
    cust_flags: list[str]
    mobiles: list[str]
    outcomes: list[str]
    report_at: float
    link_base: int
    domain: str
    expire: float
    short_codes: list[str] | None  # custom short codes (generation_type "2"), else derived from link_base

    def aim_code(self, index: int) -> str:
        return self.short_codes[index] if self.short_codes else aim_code(self.link_base + index)

    def aim_url(self, index: int) -> str:
        return f"{self.domain}/{self.aim_code(index)}"

    def msg_id(self, index: int) -> str:
        return f"{self.task_id}_{index}"


@dataclass(frozen=True, slots=True)
class ResolveTask:
    """One ``POST /v1/aim/resolve-tasks``; ``params`` are the answered CreateResolveTaskParamMode items."""

    task_id: str
    created: float
    tpl_id: str
    tpl_name: str | None
    request: dict[str, Any]  # sms_signs, resolving_times, aim_code_type, domain, expiration_time ...
    params: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class BasicTask:
    """One accepted ``POST /v1/aim-basic/send-tasks``; ``mobiles`` are the valid numbers, normalised."""

    task_id: str
    task_name: str
    created: float
    tpl_id: str
    tpl_name: str | None
    exdata: str | None
    mobiles: list[str]
    outcomes: list[str]
    report_at: float


@dataclass
class Store:
    """Tasks by id, in creation order, plus registered callback URLs (kept across :meth:`reset`)."""

    smart: dict[str, SmartTask] = field(default_factory=dict)
    resolve: dict[str, ResolveTask] = field(default_factory=dict)
    basic: dict[str, BasicTask] = field(default_factory=dict)
    callbacks: dict[str, dict[int, dict[str, Any]]] = field(
        default_factory=lambda: {"smart": {}, "basic": {}}
    )
    _link_seq: int = 0

    def allocate_links(self, count: int) -> int:
        """Reserve ``count`` consecutive short-link numbers; return the first."""
        base = self._link_seq
        self._link_seq += count
        return base

    def reset(self) -> None:
        """Forget all tasks (registered callbacks are account settings and stay)."""
        self.smart.clear()
        self.resolve.clear()
        self.basic.clear()

    def callback_url(self, kind: Literal["smart", "basic"], url_type: int) -> str | None:
        record = self.callbacks[kind].get(url_type)
        return record["callback_url"] if record else None
