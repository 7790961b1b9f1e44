"""Tell the provider where to post receipts: KooMessage smart-message and basic-edition callback URLs.

Smart messages register url_type 2 (batch receipts, ≤ one POST per batch of numbers) unless single
receipts (url_type 0) are asked for; basic edition registers url_type 0 (send status) and 1 (uplink).
Plain-SMS reports have no registration call: Message&SMS sends carry ``statusCallback`` (see
``engine/provider/callbacks.py``); the KooMessage SMS application's status and uplink addresses are console
settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from engine.provider.callbacks import receipt_url
from engine.provider.queries import KooMessageQueries

SMART_SINGLE: Final = 0
SMART_BATCH: Final = 2
BASIC_STATUS: Final = 0
BASIC_UPLINK: Final = 1


@dataclass(frozen=True, slots=True)
class Registration:
    """One registered callback; ``url`` is the real one, token included: the operator who asked for it
    pastes it where the provider's console wants it (never logged)."""

    api: str
    url_type: int
    url: str


async def register_callbacks(
    client: KooMessageQueries, base: str, token: str, *, single: bool = False
) -> list[Registration]:
    """Register every KooMessage receipt URL under ``base``; raises what the provider client raises.

    A new registration replaces the previous one of the same url_type, so running this again is harmless.
    """
    smart_type = SMART_SINGLE if single else SMART_BATCH
    await client.add_callback(receipt_url(base, token, "smart"), smart_type)
    await client.add_vms_callback(
        receipt_url(base, token, "basic"), BASIC_STATUS, remark="koodispatch status"
    )
    await client.add_vms_callback(
        receipt_url(base, token, "basic-uplink"), BASIC_UPLINK, remark="koodispatch uplink"
    )
    return [
        Registration("aim", smart_type, receipt_url(base, token, "smart")),
        Registration("aim-basic", BASIC_STATUS, receipt_url(base, token, "basic")),
        Registration("aim-basic", BASIC_UPLINK, receipt_url(base, token, "basic-uplink")),
    ]


def sms_urls(base: str, token: str) -> dict[str, str]:
    """The SMS URLs to set in the console (status report and uplink address), ready to paste."""
    return {kind: receipt_url(base, token, kind) for kind in ("sms", "uplink")}
