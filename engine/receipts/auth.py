"""Who may post receipts: the shared token of the callback URL (or a header), and the SMS push signature.

The provider cannot sign smart-message or basic-edition receipts, so the token in the registered URL is
what proves a request came through a URL we handed out; it is compared in constant time and never logged.
SMS status reports and uplinks may in addition carry ``SDK-HMAC-SHA256`` made with the SMS app key and
secret (when push signing is enabled for the application), verified with the same signer as our sends.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from engine.errors import ConfigError, SignatureError, Unauthorized
from engine.provider.signer import ReplayCache, verify
from engine.runtime.settings import Settings

TOKEN_HEADER: Final = "X-Koodispatch-Token"
SIGNED_KINDS: Final = frozenset({"sms", "uplink"})  # the routes the SMS platform posts to
MIN_TOKEN_LENGTH: Final = 16


@dataclass(frozen=True, slots=True)
class Authenticator:
    """Checks one request; ``sms_secrets`` (app key → app secret) is set when SMS pushes must be signed, and
    ``replays`` then refuses a signed push seen before (one cache per service process)."""

    token: bytes
    sms_secrets: Mapping[str, str] | None = None
    replays: ReplayCache = field(default_factory=ReplayCache, compare=False)

    def __repr__(self) -> str:  # the token must not leak through logs or tracebacks
        return "Authenticator(token='***')"

    @classmethod
    def from_settings(cls, settings: Settings) -> Authenticator:
        """Raises ConfigError when no token (or a guessable one) is configured: receipts are never open."""
        token = settings.receipts_token.get_secret_value() if settings.receipts_token else ""
        if len(token) < MIN_TOKEN_LENGTH:
            raise ConfigError(
                f"KOODISPATCH_RECEIPTS_TOKEN must be set to a random secret of at least {MIN_TOKEN_LENGTH} "
                "characters (it goes into the callback URLs you register)"
            )
        secrets = None
        if settings.receipts.sms_push_signature:
            secrets = {settings.sms_app_key.get_secret_value(): settings.sms_app_secret.get_secret_value()}
        return cls(token.encode(), secrets)

    def check_token(self, presented: str | None) -> None:
        """Raise Unauthorized unless ``presented`` equals the token (constant time)."""
        if presented is None or not hmac.compare_digest(presented.encode(), self.token):
            raise Unauthorized("missing or wrong receipt token")

    def check_signature(
        self, kind: str, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> None:
        """Raise Unauthorized when SMS pushes must be signed and this one is not (validly)."""
        if self.sms_secrets is None or kind not in SIGNED_KINDS:
            return
        try:
            verify(self.sms_secrets, method, path, query, headers, body, replays=self.replays)
        except SignatureError as exc:
            raise Unauthorized(f"SMS push signature: {exc}") from None
