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

from engine.errors import ConfigError
from engine.provider.callbacks import receipt_url
from engine.provider.queries import KooMessageQueries
from engine.receipts.http_log import mask_receipt_paths

SMART_SINGLE: Final = 0
SMART_BATCH: Final = 2
BASIC_STATUS: Final = 0
BASIC_UPLINK: Final = 1
REMARKS: Final = {BASIC_STATUS: "koodispatch status", BASIC_UPLINK: "koodispatch uplink"}


@dataclass(frozen=True, slots=True)
class Registration:
    """One registered callback; ``url`` is the real one, token included: the operator who asked for it
    pastes it where the provider's console wants it (never logged)."""

    api: str
    url_type: int
    url: str


def _wanted(base: str, token: str, single: bool) -> list[tuple[str, int, str]]:
    """(api, url_type, URL) of every registration koodispatch makes."""
    return [
        ("aim", SMART_SINGLE if single else SMART_BATCH, receipt_url(base, token, "smart")),
        ("aim-basic", BASIC_STATUS, receipt_url(base, token, "basic")),
        ("aim-basic", BASIC_UPLINK, receipt_url(base, token, "basic-uplink")),
    ]


async def _registered(client: KooMessageQueries) -> dict[tuple[str, int], str]:
    """The URLs registered now, by (api, url_type)."""
    smart = await client.list_callbacks()
    basic = await client.list_vms_callbacks()
    found = {("aim", c.url_type): c.callback_url for c in smart}
    found.update({("aim-basic", c.url_type): c.callback_url for c in basic})
    return found


async def register_callbacks(
    client: KooMessageQueries, base: str, token: str, *, single: bool = False, replace: bool = False
) -> list[Registration]:
    """Register every KooMessage receipt URL under ``base``; raises what the provider client raises.

    A registration is the account's, one per url_type: registering replaces what another tool (or another
    koodispatch) registered, so a different URL already there raises ``AlreadyRegistered`` naming it
    (tokens masked) unless ``replace``. The same URL again is harmless.
    """
    wanted = _wanted(base, token, single)
    registered = await _registered(client)
    others = [
        Registration(api, url_type, mask_receipt_paths(registered[(api, url_type)]))
        for api, url_type, url in wanted
        if registered.get((api, url_type), url) != url
    ]
    if others and not replace:
        raise AlreadyRegistered(others)
    for api, url_type, url in wanted:
        if api == "aim":
            await client.add_callback(url, url_type)
        else:
            await client.add_vms_callback(url, url_type, remark=REMARKS[url_type])
    return [Registration(api, url_type, url) for api, url_type, url in wanted]


class AlreadyRegistered(ConfigError):
    """Another receipt URL is registered for a url_type; ``registrations`` holds them (tokens masked)."""

    def __init__(self, registrations: list[Registration]) -> None:
        self.registrations = registrations
        shown = "; ".join(f"{r.api} url_type {r.url_type}: {r.url}" for r in registrations)
        super().__init__(f"another receipt URL is registered ({shown}); give --replace to replace it")


def sms_urls(base: str, token: str) -> dict[str, str]:
    """The SMS URLs to set in the console (status report and uplink address), ready to paste."""
    return {kind: receipt_url(base, token, kind) for kind in ("sms", "uplink")}
