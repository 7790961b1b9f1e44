"""aiohttp's own log records of the receipts service, with the receipt token masked.

aiohttp logs a request it cannot parse at ERROR with the parser's exception, and that exception quotes the
request line, whose path holds the token. The service's server logs through a logger of its own whose
filter rewrites each record into finished text with the token and every path segment after ``/receipts/``
masked, whatever the exception quoted.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from typing import Final

from engine.provider.callbacks import ROUTE_PREFIX

LOGGER_NAME: Final = "engine.receipts.http"
MASK: Final = "***"
_SEGMENT: Final = re.compile(re.escape(ROUTE_PREFIX) + r"/[^/\s'\"]+")
_TRACEBACKS: Final = logging.Formatter()


class TokenMask(logging.Filter):
    """Masks the token in a record's message and traceback (which it folds into the message)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self._token = token

    def __repr__(self) -> str:  # the token must not leak through a repr either
        return "TokenMask(token='***')"

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if record.exc_info:
            text = f"{text}\n{_TRACEBACKS.formatException(record.exc_info)}"
        record.msg, record.args = self.mask(text), None
        record.exc_info, record.exc_text = None, None
        return True

    def mask(self, text: str) -> str:
        """``text`` without the token, and with ``/receipts/***`` for any path segment after the prefix."""
        return mask_receipt_paths(text.replace(self._token, MASK))


def mask_receipt_paths(text: str) -> str:
    """``text`` with ``/receipts/***`` for any path segment after the prefix (where a token sits)."""
    return _SEGMENT.sub(f"{ROUTE_PREFIX}/{MASK}", text)


@contextlib.contextmanager
def masked_logger(token: str) -> Iterator[logging.Logger]:
    """The logger to hand aiohttp's server (``AppRunner(logger=...)``), masking ``token`` while in use."""
    logger = logging.getLogger(LOGGER_NAME)
    mask = TokenMask(token)
    logger.addFilter(mask)
    try:
        yield logger
    finally:
        logger.removeFilter(mask)
