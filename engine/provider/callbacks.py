"""The callback URLs we hand the provider: where it posts status reports and uplink replies to us.

``<base>/receipts/<token>/<kind>``: the receipts service (``engine/receipts/``) serves these routes, and the
SMS send calls name the ``sms`` one as their ``statusCallback``, so both sides build them here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from engine.runtime.settings import Settings

ROUTE_PREFIX: Final = "/receipts"


def receipt_url(base: str, token: str, kind: str) -> str:
    """The callback URL of one route, token in the path: ``<base>/receipts/<token>/<kind>``."""
    return f"{base.rstrip('/')}{ROUTE_PREFIX}/{token}/{kind}"


def status_callback(settings: Settings) -> str | None:
    """``statusCallback`` for Message&SMS sends: the SMS route when a public URL and token are configured."""
    token = settings.receipts_token
    if not settings.receipts.public_url or token is None:
        return None
    return receipt_url(settings.receipts.public_url, token.get_secret_value(), "sms")
