"""Forecast of a campaign before it runs: provider calls per channel, SMS segments, cost and duration.

Pure computation over what ``engine.plan.dry_run`` gathered. Calls are counted per batch with the dispatcher's
own chunk sizes (``engine.dispatch.senders``), so a forecast from known verdicts equals what the run then
does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import polars as pl

from engine.dispatch.senders import BasicSender, SmartSender, sms_chunk_size
from engine.ingest.spec import CampaignSpec, SendWindow
from engine.provider import limits
from engine.provider.limits import CAPABILITY_MAX_MOBILES
from engine.runtime.settings import PriceSettings
from engine.state.records import Verdict
from engine.types import Channel

UNKNOWN: Final = "?"  # verdict of a number neither cached nor checked
SINGLE_SMS_CHARS: Final = 70  # one SMS, 【signature】 included
PART_SMS_CHARS: Final = 67  # per part of a long (concatenated) SMS
LINK_CHARS: Final = len(limits.LINK_DOMAIN) + 1 + limits.SHORT_CODE_LEN  # "km2g.cn/PDiWqc"
PLACEHOLDER: Final = re.compile(r"\$\{[^}]*\}")  # ${1}, ${TEXT}: variables of an SMS template


def segments(chars: int) -> int:
    """SMS segments billed for a text of ``chars`` characters (Chinese and ASCII alike, 【signature】 in)."""
    if chars <= SINGLE_SMS_CHARS:
        return 1
    return -(-chars // PART_SMS_CHARS)


@dataclass(frozen=True, slots=True)
class SmsText:
    """The fixed part of an SMS: template text without placeholders plus 【signature】, and its links."""

    template_id: str
    fixed_chars: int
    links: int  # short-link variables, each LINK_CHARS long

    @classmethod
    def of(cls, template_id: str, content: str, signature: str, links: int) -> SmsText:
        """From a template's text (``${...}`` placeholders) and the signature the carrier wraps in 【】."""
        return cls(template_id, len(PLACEHOLDER.sub("", content)) + len(signature) + 2, links)


@dataclass(frozen=True, slots=True)
class SegmentForecast:
    """SMS segments of one template over the numbers it goes to."""

    template_id: str
    messages: int
    segments: int
    min_chars: int
    max_chars: int


@dataclass(frozen=True, slots=True)
class Cost:
    """Forecast cost; ``complete`` is False when an SMS template text was unknown (segments left out);
    ``unpriced`` names the ``[prices]`` this campaign needs that are not set (then ``total`` is None:
    a cost of 0.00 would read as free)."""

    smart: float
    sms: float
    basic: float
    currency: str
    complete: bool
    unpriced: tuple[str, ...] = ()

    @property
    def total(self) -> float | None:
        return None if self.unpriced else self.smart + self.sms + self.basic


@dataclass(frozen=True, slots=True)
class Forecast:
    """What a campaign will do, before it does it.

    ``messages`` are numbers per channel (``capability`` = numbers the run still has to check), ``calls``
    provider calls per channel. Numbers of unknown capability (``split["unknown"]``) are counted as smart;
    ``exact`` says there are none. ``checked_calls`` are the capability calls this plan itself made.
    """

    counts: Mapping[str, int]
    split: Mapping[str, int]
    messages: Mapping[Channel, int]
    calls: Mapping[Channel, int]
    skipped: int
    frequency_capped: int  # numbers at a contact-frequency limit if sent now (``engine/budget/contacts.py``)
    frequency_exact: bool  # every number checked, not scaled up from a sample
    sms: Mapping[str, SegmentForecast]  # "smart" (the carrier SMS), "sms" (the fallback)
    cost: Cost
    eta_seconds: float
    bottleneck: Channel | None
    checked_calls: int
    warnings: tuple[str, ...]
    errors: tuple[str, ...]  # preflight errors: submit would refuse the campaign

    @property
    def exact(self) -> bool:
        return self.split["unknown"] == 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(exact=self.exact, total_cost=self.cost.total)
        return data


@dataclass(frozen=True, slots=True)
class Inputs:
    """Everything the forecast computes from; ``verdicts[i]`` belongs to ``frame`` row ``i``."""

    spec: CampaignSpec
    counts: Mapping[str, int]
    frame: pl.DataFrame
    verdicts: str  # Verdict values, or UNKNOWN
    batch_size: int
    sms_via: str  # the API carrying the plain-SMS fallback
    rates: Mapping[Channel, float]
    prices: PriceSettings
    texts: Mapping[str, SmsText | None]  # by SMS template id; None = text unknown
    recheck: bool = False  # the run checks every number again (no verdict cache)
    checked_calls: int = 0
    frequency_capped: tuple[int, bool] = (0, True)  # numbers at a contact limit now, and whether exact
    notes: Sequence[str] = ()  # warnings gathered before the forecast (preflight, provider)
    errors: Sequence[str] = ()


def forecast(given: Inputs) -> Forecast:
    """Count calls per batch, segments per recipient, then cost and duration."""
    spec = given.spec
    split = {
        "capable": given.verdicts.count(Verdict.CAPABLE.value),
        "not_capable": given.verdicts.count(Verdict.NOT_CAPABLE.value),
        "provider_invalid": given.verdicts.count(Verdict.INVALID.value),
        "unknown": given.verdicts.count(UNKNOWN),
    }
    messages, calls = _calls(given)
    warnings = list(given.notes)
    sms, complete = _segments(given, warnings)
    cost = _cost(messages, sms, given.prices, complete)
    eta, bottleneck = _eta(messages, given.rates)
    warnings += _window_warnings(spec.schedule.window, eta)
    if split["unknown"]:
        warnings.append(
            f"{split['unknown']} numbers of unknown capability are counted as smart messages; "
            "--check-capability makes the split exact"
        )
    skipped = 0 if spec.fallback.policy != "skip" else split["not_capable"]
    capped, exact = given.frequency_capped
    if capped:
        about = "" if exact else "about "
        warnings.append(
            f"{about}{capped:,} numbers are at a contact-frequency limit now: if sent now they would not be "
            "(reason frequency_cap; counted above as sent)"
        )
    return Forecast(
        counts=given.counts,
        split=split,
        messages=messages,
        calls=calls,
        skipped=skipped,
        frequency_capped=given.frequency_capped[0],
        frequency_exact=given.frequency_capped[1],
        sms=sms,
        cost=cost,
        eta_seconds=eta,
        bottleneck=bottleneck,
        checked_calls=given.checked_calls,
        warnings=tuple(warnings),
        errors=tuple(given.errors),
    )


def _chunk_sizes(given: Inputs) -> dict[Channel, int]:
    return {
        "capability": CAPABILITY_MAX_MOBILES,
        "smart": SmartSender.chunk_size,
        "sms": sms_chunk_size(given.spec.fallback.via or given.sms_via),
        "basic": BasicSender.chunk_size,
    }


def _calls(given: Inputs) -> tuple[dict[Channel, int], dict[Channel, int]]:
    """Numbers and calls per channel, batch by batch as the dispatcher cuts them."""
    sizes = _chunk_sizes(given)
    policy = given.spec.fallback.policy
    messages: dict[Channel, int] = dict.fromkeys(sizes, 0)
    calls: dict[Channel, int] = dict.fromkeys(sizes, 0)
    text = given.verdicts
    for start in range(0, len(text), given.batch_size):
        part = text[start : start + given.batch_size]
        per_batch: dict[Channel, int] = {
            "capability": len(part) if given.recheck else part.count(UNKNOWN),
            "smart": part.count(Verdict.CAPABLE.value) + part.count(UNKNOWN),
            "sms": part.count(Verdict.NOT_CAPABLE.value) if policy == "sms" else 0,
            "basic": part.count(Verdict.NOT_CAPABLE.value) if policy == "basic" else 0,
        }
        for channel, count in per_batch.items():
            messages[channel] += count
            calls[channel] += -(-count // sizes[channel])
    return messages, calls


def _segments(given: Inputs, warnings: list[str]) -> tuple[dict[str, SegmentForecast], bool]:
    """Segments of the smart message's carrier SMS and of the plain-SMS fallback; False when a text
    was unknown (a warning says which)."""
    spec = given.spec
    verdicts = pl.Series(list(given.verdicts), dtype=pl.Utf8)
    smart_rows = verdicts.is_in([Verdict.CAPABLE.value, UNKNOWN])
    stages = [("smart", spec.sms_channel.sms_template_id, spec.smart.sms_params, smart_rows)]
    if spec.fallback.policy == "sms":
        fallback_rows = verdicts == Verdict.NOT_CAPABLE.value
        stages.append(("sms", spec.fallback_sms_template_id, spec.fallback.sms_params, fallback_rows))
    found: dict[str, SegmentForecast] = {}
    complete = True
    for stage, tpl, columns, rows in stages:
        text = given.texts.get(tpl)
        if not rows.any():
            continue
        if text is None:
            warnings.append(f"SMS template {tpl}: text unknown, its segments and cost are left out")
            complete = False
            continue
        found[stage] = _template_segments(given.frame.filter(rows), text, columns)
    return found, complete


def _template_segments(frame: pl.DataFrame, text: SmsText, columns: Sequence[str]) -> SegmentForecast:
    """Per recipient: fixed text + links + that recipient's parameter values, then segments summed."""
    chars = pl.lit(text.fixed_chars + text.links * LINK_CHARS, dtype=pl.Int64)
    for column in columns:
        chars = chars + pl.col(column).str.len_chars().cast(pl.Int64)
    per_row = frame.select(chars.alias("chars")).with_columns(
        pl.when(pl.col("chars") <= SINGLE_SMS_CHARS)
        .then(1)
        .otherwise((pl.col("chars") + PART_SMS_CHARS - 1) // PART_SMS_CHARS)
        .alias("segments")
    )
    totals = per_row.select(
        pl.col("segments").sum().alias("segments"),
        pl.col("chars").min().alias("min"),
        pl.col("chars").max().alias("max"),
    ).row(0, named=True)
    return SegmentForecast(text.template_id, frame.height, totals["segments"], totals["min"], totals["max"])


def planned_segments(
    spec: CampaignSpec, chunks: Iterable[pl.DataFrame], texts: Mapping[str, SmsText | None]
) -> dict[str, int]:
    """SMS segments if every recipient in ``chunks`` (the accepted recipients, a part of the file at a time)
    got that SMS, per SMS stage whose text is known: ``segments:smart`` (the smart message's carrier SMS),
    ``segments:sms`` (the plain-SMS fallback).

    Kept with the campaign at submission, so its report prices the numbers actually sent by the segments
    of their own texts (on average) without asking the provider for the templates again.
    """
    stages = [("smart", spec.sms_channel.sms_template_id, spec.smart.sms_params)]
    if spec.fallback.policy == "sms":
        stages.append(("sms", spec.fallback_sms_template_id, spec.fallback.sms_params))
    known = [
        (f"segments:{stage}", text, columns) for stage, tpl, columns in stages if (text := texts.get(tpl))
    ]
    found: dict[str, int] = {}
    if not known:  # nothing to count: the parts are not read back
        return found
    for chunk in chunks:
        if chunk.height:
            for name, text, columns in known:
                found[name] = found.get(name, 0) + _template_segments(chunk, text, columns).segments
    return found


def _cost(
    messages: Mapping[Channel, int], sms: Mapping[str, SegmentForecast], prices: PriceSettings, complete: bool
) -> Cost:
    """A smart message costs its parse fee plus its carrier SMS's segments; a plain SMS its segments."""
    segments_total = sum(s.segments for s in sms.values())
    used = {"smart": messages["smart"], "sms_segment": segments_total, "basic": messages["basic"]}
    price = {name: getattr(prices, name) for name in used}
    return Cost(
        smart=used["smart"] * (price["smart"] or 0.0),
        sms=segments_total * (price["sms_segment"] or 0.0),
        basic=used["basic"] * (price["basic"] or 0.0),
        currency=prices.currency,
        complete=complete,
        unpriced=tuple(name for name, count in used.items() if count and price[name] is None),
    )


def _eta(messages: Mapping[Channel, int], rates: Mapping[Channel, float]) -> tuple[float, Channel | None]:
    """Channels run side by side across batches, so the slowest budget sets the duration."""
    times = {channel: messages[channel] / rates[channel] for channel in messages if messages[channel]}
    if not times:
        return 0.0, None
    bottleneck = max(times, key=lambda channel: times[channel])
    return times[bottleneck], bottleneck


def _window_warnings(window: SendWindow | None, eta: float) -> list[str]:
    if window is None:
        return []
    day = datetime(2000, 1, 1)
    span = (datetime.combine(day, window.end) - datetime.combine(day, window.start)) % timedelta(days=1)
    open_seconds = span.total_seconds()
    if eta <= open_seconds:
        return []
    days = math.ceil(eta / open_seconds)
    return [
        f"the campaign needs about {_duration(eta)} at the configured rates but the send window "
        f"{window.start:%H:%M}-{window.end:%H:%M} is open {_duration(open_seconds)} a day: "
        f"it spans {days} days"
    ]


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
