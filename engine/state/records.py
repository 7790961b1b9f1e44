"""Frozen records and state enums of a campaign, with their one orjson codec each."""

from __future__ import annotations

import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson


class Stage(StrEnum):
    """The provider calls of a batch, in the order they run. Each stage but resolve sends on a channel.

    The ``late_*`` stages (``engine/dispatch/late.py``) are the fallback after a smart message was not
    delivered in time: journaled apart from the first fallback, counted on the channel they send on.
    """

    RESOLVE = "resolve"
    SMART = "smart"
    SMS = "sms"
    BASIC = "basic"
    LATE_SMS = "late_sms"
    LATE_BASIC = "late_basic"

    @property
    def channel(self) -> str:
        """The channel whose counters (``sent:<channel>``) a chunk of this stage moves."""
        return self.value.removeprefix("late_")


SEND_STAGES = (Stage.SMART, Stage.SMS, Stage.BASIC)


class ChunkPath(StrEnum):
    """How a chunk reached its journal state (the report and ``koodispatch status`` name it)."""

    SENT = "sent"  # sent once, its answer received
    RECONCILED = "reconciled"  # its answer was lost; the provider's query found the call
    RESENT = "resent"  # its answer was lost; the provider had no record of it, so it was sent again
    # plain SMS (no send query): settled from status reports, which echo the chunk reference (``extend``)
    CONFIRMED_BY_RECEIPTS = "confirmed_by_receipts"  # answer lost; a report for one of its numbers came
    RESENT_AFTER_TIMEOUT = "resent_after_timeout"  # answer lost; no report at all within the timeout
    UNCONFIRMED = "unconfirmed"  # answer lost and no receipts service: failed, never resent (at most once)
    # answer lost, then the campaign was cancelled: the provider had no record of it by its deadline, so it
    # never landed; nothing is sent any more and its numbers count as not sent
    NOT_LANDED = "not_landed"


class ChunkState(StrEnum):
    """Journal state of one provider call: in_flight before the call, done/failed after a confirmed answer.

    ``awaiting`` is a plain-SMS call whose answer was lost, waiting for its status reports: no batch run
    sends it again; the settle job (``engine/dispatch/settle.py``) confirms it by a report or resends it.
    """

    IN_FLIGHT = "in_flight"
    AWAITING = "awaiting"
    DONE = "done"
    FAILED = "failed"


class Verdict(StrEnum):
    """Capability of one number, frozen per batch as one byte."""

    CAPABLE = "c"
    NOT_CAPABLE = "n"
    INVALID = "x"

    def positions(self, verdicts: str) -> list[int]:
        """Indices of the numbers in a frozen verdict string that have this verdict (one byte each)."""
        import numpy as np  # here, not at the top: a state command (resume, rate) never needs numpy

        found = np.frombuffer(verdicts.encode("ascii"), np.uint8) == ord(self.value)
        return np.flatnonzero(found).tolist()  # a quarter of a Python loop's time per batch


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    """One journal entry. ``ref`` is the deterministic client reference sent with the call.

    ``path`` says how the chunk reached its state (:class:`ChunkPath`).
    ``deadline`` (in_flight only) is when the call can no longer be outstanding: a successor that finds no
    record of the chunk at the provider asks again after it before resending.
    """

    state: ChunkState
    ref: str
    numbers: int
    task_id: str = ""
    reason: str = ""
    path: ChunkPath = ChunkPath.SENT
    attempts: int = 0
    at: float = field(default_factory=time.time)
    deadline: float = 0.0

    def encode(self) -> bytes:
        return orjson.dumps(self)  # orjson reads dataclasses and enums itself (asdict costs 10x more)

    @classmethod
    def decode(cls, raw: bytes | str) -> ChunkRecord:
        data: dict[str, Any] = orjson.loads(raw)
        data["state"] = ChunkState(data["state"])
        data["path"] = ChunkPath(data.get("path", ChunkPath.SENT))
        return cls(**data)


def chunk_ref(cid: str, batch: int, stage: Stage, chunk: int) -> str:
    """Deterministic client reference of a provider call (task_name / extend / exdata)."""
    return f"{cid}:{batch}:{stage.value}:{chunk}"


def chunk_field(stage: Stage, chunk: int) -> str:
    """Field of a chunk in its batch's journal hash."""
    return f"{stage.value}:{chunk}"


def awaiting_member(batch: int, field: str) -> str:
    """Member of a chunk in the campaign's awaiting set (``keys.awaiting``): ``<batch>/<stage>:<chunk>``."""
    return f"{batch}/{field}"


def pack_indices(indices: Sequence[int]) -> bytes:
    """Batch indices as uint16 each (batches hold ≤5000 numbers)."""
    return struct.pack(f"<{len(indices)}H", *indices)


def unpack_indices(raw: bytes) -> list[int]:
    return [value for (value,) in struct.iter_unpack("<H", raw)]
