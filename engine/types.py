"""Names shared across the engine, so every module spells a channel or a campaign state the same way."""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Literal, get_args

Channel = Literal["capability", "smart", "sms", "basic"]
CHANNELS: Final[tuple[Channel, ...]] = get_args(Channel)
Priority = Literal["urgent", "normal", "bulk"]  # a campaign's class on the shared budgets, first first
PRIORITIES: Final[tuple[Priority, ...]] = get_args(Priority)


class CampaignState(StrEnum):
    """draft → scheduled → running ⇄ paused → completed | cancelled | failed."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


TERMINAL = frozenset({CampaignState.COMPLETED, CampaignState.CANCELLED, CampaignState.FAILED})

# A Redis reached through Sentinel, as one URL (composed in engine/runtime/redis_address.py, read in
# engine/store/sentinel.py): redis+sentinel://[:password@]host:port,.../<master>/<db>[?sentinel_password=]
SENTINEL_SCHEME: Final = "redis+sentinel"


def is_sentinel_url(url: str) -> bool:
    return url.startswith(f"{SENTINEL_SCHEME}://")
