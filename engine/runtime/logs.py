"""Log lines, as text or one JSON object per record (with the running job's campaign and batch), scrubbed.

The ids come from context variables that the batch job binds when it starts (``bind``): every record logged
by the job, by tasks it starts, and by the libraries it calls carries them without each call site passing
them. In both formats numbers are masked and known secrets redacted in the finished text, so no call site
can leak one, and a record is capped, so no call site can write a line of megabytes.
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
MAX_MESSAGE: Final = 4096  # characters kept of a record's message (its start) ...
MAX_TRACEBACK: Final = 16384  # ... and of its traceback (its start and its end)


def bind(campaign: str, batch: int | None = None) -> None:
    """Tag every record logged from here on in this task, and in tasks it starts, with these ids.

    arq runs every job in a task of its own, so the ids end with the job and never reach another one.
    """
    CAMPAIGN.set(campaign)
    BATCH.set(batch)


def _cap(text: str, limit: int, keep_end: bool = False) -> str:
    """``text`` cut to ``limit`` characters, saying how much was cut; ``keep_end`` keeps the first and the
    last half (a traceback: the frames and where the exception's own message ends)."""
    if len(text) <= limit:
        return text
    cut = f" … [{len(text) - limit:,} characters cut] … "
    if keep_end:
        return f"{text[: limit // 2]}{cut}{text[-(limit // 2) :]}"
    return f"{text[:limit]}{cut}"


class _Scrubbing(logging.Formatter):
    """The finished text of a record, whatever the format: every secret redacted, every mobile number
    masked, the message and its traceback capped (a record listing 50k numbers was a 650 KB line)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)  # longest first

    def scrub(self, text: str) -> str:
        """``text`` with every secret redacted and every mobile number masked."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return mask_numbers(text)

    def text(self, record: logging.LogRecord) -> str:
        """The record's message, then its traceback if any: scrubbed, then capped."""
        text = _cap(self.scrub(record.getMessage()), MAX_MESSAGE)
        if record.exc_info:
            traceback = self.scrub(self.formatException(record.exc_info))
            text = f"{text}\n{_cap(traceback, MAX_TRACEBACK, keep_end=True)}"
        return text


class TextFormatter(_Scrubbing):
    """``<time> <LEVEL> <logger>: <message>``, one record per line (a traceback continues it)."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{self.formatTime(record)} {record.levelname} {record.name}: {self.text(record)}"


class JsonFormatter(_Scrubbing):
    """``{"time", "level", "logger", "message", "campaign", "batch"}`` per line; ids only where known."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self.text(record),
        }
        campaign, batch = CAMPAIGN.get(), BATCH.get()
        if campaign is not None:
            entry["campaign"] = campaign
        if batch is not None:
            entry["batch"] = batch
        return orjson.dumps(entry).decode()
