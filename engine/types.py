"""Names shared across the engine, so every module spells a channel or a campaign state the same way."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

Channel = Literal["capability", "smart", "sms", "basic"]


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
