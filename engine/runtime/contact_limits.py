"""Contact-frequency limits as people write them: ``"2/24h"`` = at most 2 messages per number per 24 hours.

Parsed here (the runtime layer) so settings reject a bad limit when they load, with the same message the
contact store would give.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

_TEXT: Final = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*([mhd])\s*$")
_MINUTES: Final[dict[str, int]] = {"m": 1, "h": 60, "d": 1440}
LONGEST_MINUTES: Final = 31 * 1440  # a month: the store keeps a number's contacts this long at most


@dataclass(frozen=True, slots=True)
class ContactLimit:
    """At most ``count`` messages per number in any ``minutes``-long window ending now (rolling)."""

    count: int
    minutes: int

    @classmethod
    def parse(cls, text: str) -> ContactLimit:
        """``"N/<window>"`` with the window in minutes (``m``), hours (``h``) or days (``d``)."""
        found = _TEXT.match(text)
        if found is None:
            raise ValueError(f"{text!r}: write a contact limit as N/<window>, e.g. '2/24h' or '5/7d'")
        count, length, unit = int(found[1]), int(found[2]), found[3]
        minutes = length * _MINUTES[unit]
        if count < 1:
            raise ValueError(f"{text!r}: the count must be at least 1 (leave the channel out for no limit)")
        if not 1 <= minutes <= LONGEST_MINUTES:
            raise ValueError(f"{text!r}: the window must be between 1 minute and 31 days")
        return cls(count, minutes)

    def __str__(self) -> str:
        unit = next(unit for unit in "dhm" if not self.minutes % _MINUTES[unit])  # "m" always divides
        return f"{self.count}/{self.minutes // _MINUTES[unit]}{unit}"
