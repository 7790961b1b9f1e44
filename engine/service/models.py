"""Request and answer types of the API that the engine has no record for; the rest are the engine's own
(``CampaignSpec``, ``CampaignRow``, ``Report``, ``Forecast``, ``SubmitResult``, ``Standing``)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool

from engine.state.history import CampaignRow
from engine.types import CampaignState, Channel, Priority

CID_PATTERN = r"^[A-Za-z0-9_.-]{1,80}$"
PATH_PARAMS: dict[str, dict[str, Any]] = {
    "cid": {"type": "string", "pattern": CID_PATTERN, "description": "campaign id"},
    "number": {"type": "string", "pattern": r"^\+?[0-9]{5,20}$", "description": "mobile number"},
    "token_id": {"type": "string", "pattern": r"^[0-9a-f]{12}$", "description": "token id"},
}


def _iso(value: Any) -> Any:
    """Only ISO 8601 text is a time here (pydantic alone would read ``0.5`` as seconds since 1970)."""
    if isinstance(value, str) and not re.match(r"^\d{4}-\d\d-\d\d", value):
        raise ValueError("expected an ISO 8601 date-time with a zone, e.g. 2026-12-07T08:00:00+08:00")
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_iso)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ListQuery(_Strict):
    """Filters and page of the campaign list, newest first."""

    state: CampaignState | None = None
    priority: Priority | None = Field(None, description="class on the shared budgets")
    name: Annotated[str, Field(max_length=200)] = Field("", description="part of the name, any case")
    since: Instant | None = Field(None, description="submitted at or after (ISO 8601 with zone)")
    until: Instant | None = Field(None, description="submitted at or before (ISO 8601 with zone)")
    template_id: Annotated[str, Field(max_length=64)] = Field("", description="smart template id, exact")
    signature: Annotated[str, Field(max_length=64)] = Field("", description="SMS signature, exact")
    offset: int = Field(0, ge=0, le=1_000_000)
    limit: int = Field(50, ge=1, le=500)


class CampaignPage(BaseModel):
    """One page of the list; ``next_offset`` is null on the last page."""

    items: list[CampaignRow]
    next_offset: int | None


class CampaignDetail(BaseModel):
    """A campaign's row with its spec as submitted and its own rate caps."""

    campaign: CampaignRow
    spec: dict[str, Any]
    caps: dict[str, float]


class Transition(BaseModel):
    """A control action's outcome: the state before it."""

    campaign: str
    previous: str


class PriorityChange(_Strict):
    priority: Priority


class PriorityAnswer(BaseModel):
    campaign: str
    previous: str
    priority: str


class Reschedule(_Strict):
    start_at: Instant = Field(description="new start, ISO 8601 with a time zone")


class RescheduleAnswer(BaseModel):
    campaign: str
    previous: str = Field(description="the start it had, ISO 8601; empty for none")
    start_at: datetime


class RateChange(_Strict):
    """Numbers per second per channel; ``reset`` (per campaign only) drops the caps set before."""

    rates: dict[Channel, Annotated[float, Field(gt=0, allow_inf_nan=False, strict=True)]]
    reset: StrictBool = False


class CampaignRates(BaseModel):
    campaign: str
    caps: dict[str, float]


class ResendRequest(_Strict):
    reasons: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=20)
    channel: Literal["smart", "sms", "basic"] | None = None
    new_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")] | None = None
    preflight: StrictBool = True


class AuditQuery(_Strict):
    before: Annotated[str, Field(pattern=r"^[0-9]{1,20}-[0-9]{1,20}$")] | None = Field(
        None, description="an entry id: only older entries (the previous page's last id)"
    )
    limit: int = Field(100, ge=1, le=1000)
    format: Literal["json", "csv"] = "json"


class TokenRequest(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    role: Literal["viewer", "operator", "admin"]


class TokenAnswer(BaseModel):
    """A new token: ``token`` is shown this once; only its hash is kept."""

    id: str
    name: str
    role: str
    token: str


class SuppressionQuery(_Strict):
    cursor: int = Field(0, ge=0, le=2**63 - 1, description="where the previous page stopped (next_cursor)")
    limit: int = Field(500, ge=1, le=5000)


class SuppressionPage(BaseModel):
    """Numbers in no particular order, each listed once over the pages; ``next_cursor`` null at the end."""

    numbers: list[str]
    next_cursor: int | None


Number = Annotated[str, Field(min_length=1, max_length=32)]


class NumberQuery(_Strict):
    """One number, in a body so that it stays out of URLs (and proxies' access logs)."""

    number: Number


class Numbers(_Strict):
    numbers: list[Number] = Field(min_length=1, max_length=10_000)


class Suppressed(BaseModel):
    suppressed: bool


class Changed(BaseModel):
    """How many numbers the change added or removed (the others were already so)."""

    changed: int
