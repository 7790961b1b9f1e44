"""The one exception tree of koodispatch; code above the provider boundary decides by type, never by text.

DispatchError
├── ConfigError                      bad settings or campaign spec (names the field)
├── InputError                       bad recipient file (names file, row, column)
│   └── BadReceipt                   a callback body not in its route's format (answered 400)
├── StateError                       campaign state missing, unknown or in the wrong state
│   └── StateLost                    Redis came back empty under a running campaign
├── LeaseLost                        this worker no longer holds the batch it runs (stalled past the TTL)
├── Halt                             a checkpoint found the campaign must not send now (paused, cancelled …)
│   └── WindowClosed                 … or outside its send window: it may send again at ``opens_at``
├── ProviderDown                     the provider failed for longer than the outage limit: pause the campaign
├── Unconfirmable                    no provider query can tell whether a call landed (plain SMS)
├── Unauthorized                     a receipt request without the right token or signature (answered 401)
├── SignatureError                   a signed request's Authorization is missing, malformed, stale or wrong
└── ProviderError(code, provider_code, retryable, retry_after)
    ├── TransientError (marker)      safe to retry once the request surely did not land
    │   ├── Throttled                HTTP 429 / flow control; carries retry_after
    │   ├── ProviderUnavailable      5xx, refused connection, request never sent
    ├── Ambiguous                    the request may have been accepted (timeout after send,
    │                                dropped connection): reconcile before resending
    └── TerminalError (marker)       retrying the same call cannot help
        ├── AuthFailed               401/403 from the gateway
        ├── TooManyNumbers           KM.90016301 / KM.90016403 / KM.90016416
        ├── BadRequest               any other 4xx: template, params, signature ...
        └── InvalidNumber            permanent for one number (raised per item, never per call)

The provider simulator answers with its own ``SimError`` (``engine/simulator/wire.py``): that is the simulated
provider's reply on the wire, never an error of koodispatch's.
"""

from __future__ import annotations

from datetime import datetime

from engine.types import CampaignState


class DispatchError(Exception):
    """Root of every error koodispatch raises on purpose."""


class ConfigError(DispatchError):
    """Settings or a campaign spec are invalid; the message names the field."""


class InputError(DispatchError):
    """A recipient file cannot be used; the message names the file and, where known, row and column."""


class StateError(DispatchError):
    """A campaign is unknown, or the requested change does not fit its current state."""


class StateLost(StateError):
    """Campaign state vanished from Redis (restart without persistence); never restart from zero."""


class Unreplicated(DispatchError):
    """A write no replica confirmed in time (``WAIT``): a failover now could lose it, so the provider call
    it journals is not made yet; the admission is tried again."""


class LeaseLost(DispatchError):
    """The batch lease expired under a running batch; it stops before its next call (a successor owns it)."""


class BadReceipt(InputError):
    """A callback request whose body is not in the format its route expects (answered 400)."""


class Halt(DispatchError):
    """Raised at a checkpoint when the campaign must not send now (paused, cancelled, finished)."""

    def __init__(self, cid: str, state: CampaignState) -> None:
        super().__init__(f"campaign {cid} is {state.value}")
        self.state = state


class WindowClosed(Halt):
    """Raised at a checkpoint of a running campaign outside its send window; it may send at ``opens_at``."""

    def __init__(self, cid: str, opens_at: datetime) -> None:
        super().__init__(cid, CampaignState.RUNNING)
        self.cid = cid
        self.opens_at = opens_at

    def __str__(self) -> str:
        return f"campaign {self.cid} is outside its send window until {self.opens_at.isoformat()}"


class ProviderDown(DispatchError):
    """The provider kept failing for longer than ``outage_pause_after``; the campaign should pause."""


class Unconfirmable(DispatchError):
    """The provider offers no query that could confirm whether a call landed."""


class Unauthorized(DispatchError):
    """A receipt request without the right token or signature (answered 401, nothing recorded)."""


class SignatureError(DispatchError):
    """A request's Authorization is missing, malformed, stale or does not match."""


class TransientError(DispatchError):
    """Marker: the same call may succeed later."""


class TerminalError(DispatchError):
    """Marker: repeating the same call cannot succeed."""


class ProviderError(DispatchError):
    """An answer (or no answer) from the provider that is not a success.

    ``code`` is the HTTP status (0 when no HTTP answer arrived), ``provider_code`` the KM/APIGW/E2000xx code
    when the provider sent one, ``retry_after`` seconds the provider asked us to wait, if any.
    """

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        code: int = 0,
        provider_code: str = "",
        retry_after: float | None = None,
        request_id: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.provider_code = provider_code
        self.retry_after = retry_after
        self.request_id = request_id

    def __str__(self) -> str:
        parts = [self.message]
        if self.code:
            parts.append(f"http={self.code}")
        if self.provider_code:
            parts.append(f"code={self.provider_code}")
        return " ".join(parts)


class Throttled(ProviderError, TransientError):
    """HTTP 429 or the provider's flow-control code; wait ``retry_after`` (or back off) and retry."""

    retryable = True


class ProviderUnavailable(ProviderError, TransientError):
    """5xx answer, refused or reset connection before the request was sent; the call did not land."""

    retryable = True


class Ambiguous(ProviderError):
    """The request reached the provider but no answer came back: it may have been accepted.

    Never resend blindly; reconcile with the provider's query APIs first.
    """

    retryable = False


class AuthFailed(ProviderError, TerminalError):
    """The gateway rejected our credentials or signature (401/403)."""


class TooManyNumbers(ProviderError, TerminalError):
    """The request carried more numbers or links than the provider allows; a client bug if ever seen."""


class BadRequest(ProviderError, TerminalError):
    """Any other 4xx rejection of the whole call (template, parameters, signature, expiry ...)."""


class InvalidNumber(ProviderError, TerminalError):
    """Permanent failure of one number inside an otherwise accepted call."""
