"""Garbage-collector settings for the long-running services (worker, simulator, receipts).

A campaign allocates millions of short-lived containers (request bodies, answers, journal records). With
CPython's default thresholds a young collection runs every 700 of them, and every tenth of those walks
the middle generation; older collections walk everything imported at start (polars, aiohttp, arq): in a
worker at full speed that was a fifth of its CPU. Reference counting frees almost all of these objects
anyway; the collector is only needed for cycles, which are rare on the hot path.
"""

from __future__ import annotations

import gc
from typing import Final

YOUNG_THRESHOLD: Final = 50_000  # allocations between young collections (CPython's default: 700)
OLDER_THRESHOLDS: Final = (20, 100)  # young (then middle) collections before an older one (default 10, 10)


def tune_for_service() -> None:
    """Collect what start-up left, freeze the survivors out of every later collection (they live as long
    as the process) and collect young objects in larger steps."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
