"""Contact-frequency caps across campaigns: at most N messages per number per rolling window, per channel.

The account's limits (``[contacts]`` in the settings, e.g. ``smart = ["1/24h", "3/7d"]``) count every
message any campaign sent a number, and a number at a limit of the channel it would get is not sent to: it
is failed with reason ``frequency_cap`` (so ``resend-failed --reason frequency_cap`` reaches it later).
Urgent and transactional campaigns and trial sends are exempt and not counted.

Each batch is decided once, in one script run (``store/lua/cap_contacts.lua``), after its capability
verdicts are frozen: the numbers at a limit are taken out, the others counted, and the decision kept with
the batch, so a batch that runs again (resumed, taken over) sends to the same numbers and counts nobody
twice. A number counts from its batch's decision, sent or not: never more than the limit.

The store: per UTC day, ``buckets`` Redis hashes (fixed by the day's first write, so a new setting starts
the next day); a number is a field of one of them whose value is its contacts that day, two bytes each
(the minute). Redis packs a hash of up to 128 small fields (ziplist/listpack): about 8 bytes per number
plus the hash's own overhead shared by its numbers. At the default 262,144 buckets that is 12.5 bytes per
number at 10M numbers a day and 9.8 at 30M (``tests/budget/test_contacts.py`` measures it). A day's
hashes expire once the longest window has passed over it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import orjson
import redis.asyncio as aioredis

from engine.budget import tenants
from engine.runtime.contact_limits import ContactLimit
from engine.runtime.settings import ContactSettings
from engine.state import trial
from engine.state.campaigns import CampaignRecord
from engine.store import keys
from engine.store.scripts import load_script
from engine.types import Channel

FREQUENCY_CAP: Final = "frequency_cap"
CODES: Final[dict[Channel, str]] = {"smart": "s", "sms": "m", "basic": "b"}
NOT_SENT: Final = "-"  # the code of a number no channel sends to (invalid, skipped by policy)
# ``koodispatch plan`` checks at most this many numbers, a spread sample of a longer list, and scales up.
FORECAST_SAMPLE: Final = 200_000
_PER_CALL: Final = 5000  # numbers per script run in a forecast, as in one batch


class ContactCaps:
    """The account's contact-frequency limits on one Redis."""

    def __init__(self, redis: aioredis.Redis, settings: ContactSettings) -> None:
        self.redis = redis
        self.buckets = settings.buckets
        self.limits: dict[Channel, list[ContactLimit]] = {
            channel: [ContactLimit.parse(text) for text in getattr(settings, channel)] for channel in CODES
        }
        self._decide = load_script(redis, "cap_contacts")
        self._peek = load_script(redis, "peek_contacts")

    @property
    def active(self) -> bool:
        """Whether any channel has a limit."""
        return any(self.limits.values())

    def _window_seconds(self) -> int:
        return 60 * max((limit.minutes for found in self.limits.values() for limit in found), default=0)

    def _args(self, numbers: Sequence[str], channels: Sequence[Channel | None]) -> list[str | int | bytes]:
        used = {CODES[ch]: [[x.count, x.minutes] for x in got] for ch, got in self.limits.items() if got}
        text = "".join(NOT_SENT if c is None else CODES.get(c, NOT_SENT) for c in channels)
        return [keys.CONTACTS, self.buckets, orjson.dumps(used), "".join(numbers), text]

    async def decide(
        self, record: CampaignRecord, batch: int, numbers: Sequence[str], channels: Sequence[Channel | None]
    ) -> dict[int, Channel]:
        """The positions in ``numbers`` at a limit of their channel (``channels[i]``, None = not sent) with
        that channel, decided once per batch; the others are counted as contacted now."""
        if self.active and not await exempt(self.redis, record):
            args = [*self._args(numbers, channels), self._window_seconds()]
        else:  # nothing counted: still decided, so a run under other settings keeps this batch's split
            args = [keys.CONTACTS, 1, b"{}", "", "", 0]
        decided = await self._decide(keys=[keys.contact_decision(record.cid, batch)], args=args)
        return {
            i: channel
            for i, flag in enumerate(bytes(decided))
            if flag == ord("1") and (channel := channels[i]) is not None
        }

    async def forecast(self, numbers: Sequence[str], channels: Sequence[Channel | None]) -> tuple[int, bool]:
        """How many numbers would be at a limit if sent now, and whether that is exact (every number
        checked) rather than scaled up from a sample of ``FORECAST_SAMPLE``."""
        if not self.active or not numbers:
            return 0, True
        step = max(1, -(-len(numbers) // FORECAST_SAMPLE))
        numbers, channels = numbers[::step], channels[::step]
        capped = 0
        for start in range(0, len(numbers), _PER_CALL):
            part = slice(start, start + _PER_CALL)
            capped += int(await self._peek(keys=[], args=self._args(numbers[part], channels[part])))
        return capped * step, step == 1


async def exempt(redis: aioredis.Redis, record: CampaignRecord) -> bool:
    """Trial sends, transactional campaigns and urgent ones (their class now) are neither capped nor
    counted."""
    if trial.campaign_of(record.cid) is not None or record.spec.budget.transactional:
        return True
    return (await tenants.load(redis, record.cid)).priority == "urgent"
