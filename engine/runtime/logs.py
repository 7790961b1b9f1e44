"""JSON log lines: one object per record with the campaign and batch of the running job, numbers masked.

The ids come from context variables that the batch job binds when it starts (``bind``): every record logged
by the job, by tasks it starts, and by the libraries it calls carries them without each call site passing
them. Numbers are masked and known secrets redacted in the finished text, so no call site can leak one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from engine.phones import mask_numbers

CAMPAIGN: Final[ContextVar[str | None]] = ContextVar("koodispatch_campaign", default=None)
BATCH: Final[ContextVar[int | None]] = ContextVar("koodispatch_batch", default=None)
REDACTED: Final = "***"


def bind(campaign: str, batch: int | None = None) -> None:
    """Tag every record logged from here on in this task, and in tasks it starts, with these ids.

    arq runs every job in a task of its own, so the ids end with the job and never reach another one.
    """
    CAMPAIGN.set(campaign)
    BATCH.set(batch)


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "campaign", "batch"}`` per line; ids only where known."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)  # longest first

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message = f"{message}\n{self.formatException(record.exc_info)}"
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self.scrub(message),
        }
        campaign, batch = CAMPAIGN.get(), BATCH.get()
        if campaign is not None:
            entry["campaign"] = campaign
        if batch is not None:
            entry["batch"] = batch
        return orjson.dumps(entry).decode()

    def scrub(self, text: str) -> str:
        """``text`` with every secret redacted and every mobile number masked."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return mask_numbers(text)
