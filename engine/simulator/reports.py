"""Status reports and uplink replies, built in the provider's documented callback formats and posted when due.

Payloads are built only once a report is due, in the background, so accepting a send stays O(numbers)
with no per-number objects; nothing is scheduled at all when no callback URL is configured.
"""

from __future__ import annotations

import asyncio
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from engine.simulator.callbacks import CallbackPoster, PostKind
from engine.simulator.config import SimConfig
from engine.simulator.state import SimState
from engine.simulator.store import DELIVERED, BasicTask, SmartTask
from engine.simulator.wire import iso

Post = tuple[str, PostKind, Any]


@dataclass(frozen=True, slots=True)
class SmsDelivery:
    """The accepted numbers of one plain-SMS call (KooMessage /v1/aim/sms or Message&SMS batchSend*)."""

    msg_ids: list[str]
    mobiles: list[str]
    outcomes: list[str]
    created: float
    due: float
    extend: str | None
    status_url: str | None
    channel_num: str


def schedule_smart(state: SimState, task: SmartTask) -> None:
    """Post SmsCallback receipts (url_type 0 single, 2 batch) and uplink replies once the task is due."""
    cfg = state.config.callbacks
    single = state.store.callback_url("smart", 0) or cfg.smart_url
    batch = state.store.callback_url("smart", 2) or cfg.smart_batch_url
    uplink = cfg.sms_uplink_url if cfg.uplink_share > 0 else None
    if single or batch or uplink:
        _schedule(state, task.report_at, lambda: _smart_posts(state.config, task, single, batch, uplink))


def schedule_basic(state: SimState, task: BasicTask) -> None:
    """Post ``{"seq_id","reports"}`` send receipts and uplink replies once the task is due."""
    cfg = state.config.callbacks
    status = state.store.callback_url("basic", 0) or cfg.basic_url
    uplink = (state.store.callback_url("basic", 1) or cfg.basic_uplink_url) if cfg.uplink_share > 0 else None
    if status or uplink:
        _schedule(state, task.report_at, lambda: _basic_posts(state.config, task, status, uplink))


def schedule_sms(state: SimState, sms: SmsDelivery) -> None:
    """Post form-urlencoded status reports (statusCallback or the configured URL) and uplink replies."""
    cfg = state.config.callbacks
    status = sms.status_url or cfg.sms_url
    uplink = cfg.sms_uplink_url if cfg.uplink_share > 0 else None
    if status or uplink:
        _schedule(state, sms.due, lambda: _sms_posts(state.config, sms, status, uplink))


def _schedule(state: SimState, due: float, build: Callable[[], list[Post]]) -> None:
    if state.poster is not None:
        state.poster.spawn(_deliver(state.poster, due, build))


async def _deliver(poster: CallbackPoster, due: float, build: Callable[[], list[Post]]) -> None:
    await asyncio.sleep(max(0.0, due - time.time()))
    await asyncio.gather(*(poster.post(url, kind, payload) for url, kind, payload in build()))


def _smart_posts(
    config: SimConfig, task: SmartTask, single: str | None, batch: str | None, uplink: str | None
) -> list[Post]:
    receipts = [_smart_receipt(task, i) for i in range(len(task.mobiles))] if single or batch else []
    posts: list[Post] = []
    if single:
        posts += [(single, "json", _envelope(config.domain_id, r)) for r in receipts]
    if batch:
        posts += [(batch, "json", _envelope(config.domain_id, c)) for c in _chunks(receipts, config)]
    if uplink:
        channel_num = str(task.sms_channel.get("channel_number", ""))
        for i in _replying(config, [task.msg_id(i) for i in range(len(task.mobiles))], task.outcomes):
            posts.append((uplink, "form", _sms_uplink(config, task.mobiles[i], channel_num, task.report_at)))
    return posts


def _smart_receipt(task: SmartTask, index: int) -> dict[str, Any]:
    outcome = task.outcomes[index]
    return {
        "task_id": task.task_id,
        "cust_flag": task.cust_flags[index],
        "msg_id": task.msg_id(index),
        "tpl_id": task.tpl_id,
        "sms_sign": task.sms_channel.get("sms_sign"),
        "aim_code": task.aim_code(index),
        "aim_url": task.aim_url(index),
        "send_time": iso(task.created),
        "receive_time": iso(task.report_at),
        "send_status": outcome,
        "send_status_desc": "success" if outcome == DELIVERED else "fail",
    }


def _envelope(domain_id: str, body: Any) -> dict[str, Any]:
    """The smart-message receipt wrapper; ``body`` travels as a JSON string (an array for url_type 2)."""
    return {
        "request_id": uuid.uuid4().hex,
        "domain_id": domain_id,
        "callback_type": "sms",
        "body": orjson.dumps(body).decode(),
        "retry": False,
    }


def _basic_posts(config: SimConfig, task: BasicTask, status: str | None, uplink: str | None) -> list[Post]:
    stime, rtime = _plain_time(task.created), _plain_time(task.report_at)
    posts: list[Post] = []
    if status:
        reports = [
            {
                "task_id": task.task_id,
                "mobile": mobile,
                "status": 0 if outcome == DELIVERED else 1,
                "code": outcome,
                "desc": "success" if outcome == DELIVERED else "fail",
                "stime": stime,
                "rtime": rtime,
            }
            for mobile, outcome in zip(task.mobiles, task.outcomes, strict=True)
        ]
        posts += [
            (status, "json", {"seq_id": uuid.uuid4().hex, "reports": c}) for c in _chunks(reports, config)
        ]
    if uplink:
        ids = [f"{task.task_id}_{i}" for i in range(len(task.mobiles))]
        replies = [
            {
                "task_id": task.task_id,
                "mobile": task.mobiles[i],
                "content": config.callbacks.uplink_text,
                "rtime": rtime,
            }
            for i in _replying(config, ids, task.outcomes)
        ]
        posts += [
            (uplink, "json", {"seq_id": uuid.uuid4().hex, "replies": c}) for c in _chunks(replies, config)
        ]
    return posts


def _sms_posts(config: SimConfig, sms: SmsDelivery, status: str | None, uplink: str | None) -> list[Post]:
    posts: list[Post] = []
    if status:
        for msg_id, mobile, outcome in zip(sms.msg_ids, sms.mobiles, sms.outcomes, strict=True):
            posts.append((status, "form", _sms_report(sms, msg_id, mobile, outcome)))
    if uplink:
        for i in _replying(config, sms.msg_ids, sms.outcomes):
            posts.append((uplink, "form", _sms_uplink(config, sms.mobiles[i], sms.channel_num, sms.due)))
    return posts


def _sms_report(sms: SmsDelivery, msg_id: str, mobile: str, outcome: str) -> dict[str, str]:
    report = {
        "smsMsgId": msg_id,
        "total": "1",
        "sequence": "1",
        "status": outcome,
        "statusDesc": "delivered" if outcome == DELIVERED else f"not delivered: {outcome}",
        "source": "2",
        "updateTime": iso(sms.due),
        "orgCode": "000" if outcome == DELIVERED else "999",
    }
    if sms.extend is not None:
        report["extend"] = sms.extend
        report["to"] = "+86" + mobile
    return report


def _sms_uplink(config: SimConfig, mobile: str, channel_num: str, moment: float) -> dict[str, str]:
    return {
        "smsMsgId": uuid.uuid4().hex,
        "from": "+86" + mobile,
        "to": channel_num,
        "body": config.callbacks.uplink_text,
        "createTime": iso(moment),
    }


def _replying(config: SimConfig, ids: list[str], outcomes: list[str]) -> Iterator[int]:
    """Indices of delivered numbers that reply: a stable hash of the message id under uplink_share."""
    threshold = config.callbacks.uplink_share * (1 << 32)
    for i, (msg_id, outcome) in enumerate(zip(ids, outcomes, strict=True)):
        if outcome == DELIVERED and zlib.crc32(msg_id.encode()) < threshold:
            yield i


def _chunks(items: list[dict[str, Any]], config: SimConfig) -> Iterator[list[dict[str, Any]]]:
    size = config.callbacks.batch_size
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _plain_time(moment: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(moment))
