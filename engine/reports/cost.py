"""What a campaign's accepted messages cost at the configured ``[prices]``.

A smart message costs its parse fee plus the segments of the SMS that carries its link, a plain SMS its
segments, a basic-edition message its price. Segments per message are the campaign's own average, from the
texts preflight read at submission (``forecast.planned_segments``); without them (submitted offline) each
SMS counts as one segment and ``segments_known`` says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from engine.runtime.settings import PriceSettings


@dataclass(frozen=True, slots=True)
class ActualCost:
    """Cost so far by channel; ``priced`` is False when no price is set (every figure would read 0)."""

    smart: float
    sms: float
    basic: float
    segments: int  # SMS segments billed: carrier SMS of the smart messages and the plain-SMS fallback
    segments_known: bool
    currency: str
    priced: bool

    @property
    def total(self) -> float:
        return self.smart + self.sms + self.basic

    def describe(self) -> str:
        """One line for the reports: ``12.34 CNY: smart 10.00, SMS 2.34 (39 segments)``, channels that cost
        nothing left out."""
        if not self.priced:
            return "unknown: no [prices] set (KOODISPATCH_PRICES__SMART, __SMS_SEGMENT, __BASIC)"
        parts = [
            f"smart {self.smart:,.2f}" if self.smart else "",
            f"SMS {self.sms:,.2f} ({self.segments:,} segments)" if self.sms else "",
            f"basic {self.basic:,.2f}" if self.basic else "",
        ]
        shown = ", ".join(part for part in parts if part)
        return f"{self.total:,.2f} {self.currency}" + (f": {shown}" if shown else "")

    @property
    def caveat(self) -> str:
        """What the figure cannot know ("" when nothing)."""
        if self.priced and not self.segments_known:
            return "SMS counted as 1 segment each: the texts were not read at submission"
        return ""


def actual_cost(sent: Mapping[str, int], counts: Mapping[str, int], prices: PriceSettings) -> ActualCost:
    """From the numbers accepted per channel (``sent``) and the record's import counts (``counts``, with
    ``segments:<stage>`` when preflight read the texts)."""
    accepted = counts.get("accepted", 0) or 1
    known = True
    segments = 0.0
    for stage in ("smart", "sms"):
        planned = counts.get(f"segments:{stage}")
        known = known and (planned is not None or not sent.get(stage, 0))
        segments += sent.get(stage, 0) * (planned / accepted if planned is not None else 1.0)
    billed = round(segments)
    return ActualCost(
        smart=sent.get("smart", 0) * prices.smart,
        sms=billed * prices.sms_segment,
        basic=sent.get("basic", 0) * prices.basic,
        segments=billed,
        segments_known=known,
        currency=prices.currency,
        priced=any((prices.smart, prices.sms_segment, prices.basic)),
    )
