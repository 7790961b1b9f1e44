"""Helpers for report and resend tests: a small submitted campaign and outcomes written as the engine does.

Send outcomes follow ``finish_chunk.lua`` (failed-numbers hash, ``sent:`` / ``failed:`` / ``failed_on:``
counters), receipts go through the receipts service's own writer (``engine/state/delivery.py``), so
reports are tested without running a campaign.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any, Final

import orjson
import polars as pl
from arq.connections import ArqRedis

from engine import api
from engine.runtime.settings import load_settings
from engine.state.delivery import OutcomeWriter
from engine.store import keys

Row = tuple[str, ...]
BATCH_SIZE: Final = 5
NUMBERS: Final = [f"1380013{i:04d}" for i in range(12)]  # three batches: 5, 5, 2
SPEC: Final[dict[str, Any]] = {
    "name": "report-test",
    "smart": {"template_id": "100000001", "sms_params": ["name"]},
    "sms_channel": {
        "channel_number": "10690000",
        "sms_template_id": "sms_tpl_1",
        "signature": "华为云",
        "app_name": "report-test",
    },
    "fallback": {"policy": "sms", "sms_params": ["name", "city"]},
    "recipients": {"mobile_column": "mobile"},
}


def name_of(number: str) -> str:
    """The ``name`` column of a recipient, with a comma and a quote to prove the CSV round trip."""
    return f'user "{number[-4:]}", vip'


def write_recipients(path: Path) -> Path:
    lines = ["mobile,name,city"] + [f'{n},"{name_of(n).replace(chr(34), chr(34) * 2)}",深圳' for n in NUMBERS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def submit_small(redis: ArqRedis, tmp: Path) -> str:
    """Submit SPEC for NUMBERS in batches of BATCH_SIZE; returns the campaign id (no worker runs it)."""
    settings = load_settings(dispatch={"batch_size": BATCH_SIZE})
    recipients = write_recipients(tmp / "r.csv")
    result = await api.submit_campaign(
        SPEC, redis=redis, recipients=recipients, settings=settings, preflight=False
    )
    return result.cid


def batch_of(number: str) -> int:
    return NUMBERS.index(number) // BATCH_SIZE


async def accept(redis: ArqRedis, cid: str, channel: str, count: int) -> None:
    await redis.hincrby(keys.counters(cid), f"sent:{channel}", count)


async def fail_at_send(redis: ArqRedis, cid: str, number: str, channel: str, reason: str, code: str) -> None:
    value = orjson.dumps({"channel": channel, "reason": reason, "code": code})
    assert await redis.hsetnx(keys.failed(cid), number, value)
    for name in ("failed", f"failed:{reason}", f"failed_on:{channel}", f"failed_reason:{channel}:{reason}"):
        await redis.hincrby(keys.counters(cid), name, 1)


async def receipt(redis: ArqRedis, cid: str, number: str, channel: str, ok: bool, status: str) -> None:
    """Record a status report as the receipts service does (its outcome byte and counters)."""
    position = NUMBERS.index(number) % BATCH_SIZE
    entries = [(position, "" if ok else status)]
    assert await OutcomeWriter(redis).record(cid, batch_of(number), channel, "delivery", entries) == 1


async def typical_outcome(redis: ArqRedis, cid: str) -> list[Row]:
    """Smart for the first 8 numbers, SMS for the rest; some fail at send, some undelivered.

    Returns the expected export rows (mobile, channel, stage, reason, provider_code) in recipient order.
    """
    smart, sms = NUMBERS[:8], NUMBERS[8:]
    await fail_at_send(redis, cid, smart[1], "smart", "template", "KM.00001082")
    await fail_at_send(redis, cid, smart[6], "smart", "rejected", "KM.99999999")
    await fail_at_send(redis, cid, sms[2], "sms", "invalid_number", "E200027")
    await accept(redis, cid, "smart", 6)
    await accept(redis, cid, "sms", 3)
    for n in (smart[0], smart[2], smart[3], sms[0]):
        await receipt(redis, cid, n, "smart" if n in smart else "sms", True, "DELIVRD")
    await receipt(redis, cid, smart[4], "smart", False, "UNDELIV")
    await receipt(redis, cid, sms[1], "sms", False, "EXPIRED")
    return [
        (smart[1], "smart", "send", "template", "KM.00001082"),
        (smart[4], "smart", "delivery", "undelivered", "UNDELIV"),
        (smart[6], "smart", "send", "rejected", "KM.99999999"),
        (sms[1], "sms", "delivery", "undelivered", "EXPIRED"),
        (sms[2], "sms", "send", "invalid_number", "E200027"),
    ]


PARAMS: Final = ("name", "city")  # the parameter columns of SPEC, as the export adds them


def with_params(rows: list[Row]) -> list[Row]:
    """Expected export rows with each recipient's parameter columns (see ``write_recipients``)."""
    return [(*row, name_of(row[0]), "深圳") for row in rows]


def read_export(path: Path) -> list[Row]:
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as fh:
            return [tuple(row) for row in csv.reader(fh)]
    sheets: dict[str, pl.DataFrame] = pl.read_excel(path, sheet_id=0, infer_schema_length=0)
    rows: list[Row] = []
    for frame in sheets.values():
        rows += [tuple(frame.columns)] + [tuple(row) for row in frame.iter_rows()]
    return rows


def partial_files(directory: Path) -> list[str]:
    """Names of unfinished export files left in ``directory`` (there must be none)."""
    return [p.name for p in directory.iterdir() if p.name.endswith(".part")]


def embedded(page: str) -> Any:
    match = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    assert match, "the page embeds the report data"
    return orjson.loads(match.group(1))
