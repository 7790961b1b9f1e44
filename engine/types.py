"""Type aliases shared across the engine, so every module spells a channel or a state the same way."""

from __future__ import annotations

from typing import Literal

Channel = Literal["capability", "smart", "sms", "basic"]
