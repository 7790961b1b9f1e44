"""Resend the failed numbers of a campaign as a new campaign through the normal planner path.

The failed (and undelivered) numbers — never one a status report says was delivered on any channel — are
written with their frozen parameter values to a temporary recipient file, which the planner validates,
de-duplicates, checks against opt-outs and freezes like any other. The new id is derived from the original
id and that file, so resending the same failures twice finds the first resend instead of sending again.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import logging
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Final, Literal

from arq.connections import ArqRedis

from engine.errors import InputError
from engine.ingest.spec import CampaignSpec
from engine.plan.planner import SubmitResult
from engine.reports.failed import EVERY, FailureFilter, failed_batches
from engine.state import campaigns

log = logging.getLogger(__name__)
ID_MAX: Final = 64
SUFFIX: Final = "-resend-"
DIGEST_HEX: Final = 12


def resend_id(cid: str, recipients: Path) -> str:
    """``<original id>-resend-<digest of the recipient file>``, shortened to the 64 characters ids allow."""
    digest = hashlib.blake2b(recipients.read_bytes(), digest_size=DIGEST_HEX // 2).hexdigest()
    return f"{cid[: ID_MAX - len(SUFFIX) - DIGEST_HEX]}{SUFFIX}{digest}"


async def write_failed_recipients(
    redis: ArqRedis, cid: str, spec: CampaignSpec, wanted: FailureFilter, path: Path
) -> int:
    """Write the wanted failed numbers once each, with their parameter columns; returns how many."""
    columns = spec.param_columns()
    written = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([spec.recipients.mobile_column, *columns])
        async for batch, rows in failed_batches(redis, cid, columns, wanted):
            # a number undelivered on two channels goes once; one delivered on any channel never
            indices = sorted({row.index for row in rows if not row.delivered})
            lines: Sequence[list[str]] = [[batch.numbers[i], *batch.row(i, columns)] for i in indices]
            await asyncio.to_thread(writer.writerows, lines)
            written += len(lines)
    return written


Submit = Callable[[CampaignSpec, Path], Awaitable[SubmitResult]]


async def resend_failed(
    redis: ArqRedis,
    cid: str,
    submit: Submit,
    wanted: FailureFilter = EVERY,
    new_id: str | None = None,
    *,
    via: Literal["sms", "basic"] | None = None,
    trial: bool = False,
) -> SubmitResult:
    """Submit (through ``submit``: spec, recipient file) the spec of ``cid`` to its failed numbers only.

    ``via`` sends every number by that channel alone (no smart message: the one that did not arrive);
    the original's trial numbers get the message again only with ``trial`` (they saw it already).

    Raises StateError for an unknown campaign, InputError when no failed number matches, ConfigError for a
    bad ``new_id``; ``submit``'s errors otherwise, all before anything is written for the new campaign.
    """
    record = await campaigns.load(redis, cid)
    with tempfile.TemporaryDirectory(prefix="koodispatch-resend-") as tmp:
        path = Path(tmp) / "failed.csv"
        count = await write_failed_recipients(redis, cid, record.spec, wanted, path)
        if count == 0:
            raise InputError(f"campaign {cid}: no failed number{wanted.describe()} to resend")
        chosen = new_id or await asyncio.to_thread(resend_id, cid, path)
        data = record.spec.model_dump()
        data.update(id=chosen, recipients={**data["recipients"], "file": None})  # the numbers are in ``path``
        if not trial:
            data["schedule"] = {**data["schedule"], "trial_numbers": ()}
        if via is not None:
            data["fallback"] = {**data["fallback"], "policy": via, "only": True, "after_minutes": None}
        spec = CampaignSpec.model_validate(data, context={"source": f"resend of {cid}"})
        result = await submit(spec, path)
    await campaigns.set_parent(redis, result.cid, cid)
    log.info("campaign %s: %d failed numbers resent as campaign %s", cid, count, result.cid)
    return result
