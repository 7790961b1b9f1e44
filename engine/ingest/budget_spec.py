"""The ``[budget]`` section of a campaign spec: its class, weight and own caps on the shared budgets."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.runtime.ranges import RATE
from engine.types import Channel, Priority


class BudgetSpec(BaseModel):
    """How a campaign shares each channel's budget with the campaigns sending at the same time.

    A higher class is served first (all but a minimum share kept for each lower class sending), campaigns
    of one class share by weight, and a campaign never exceeds its own ``max_rate`` on a channel. Changed
    live by ``koodispatch priority`` and ``koodispatch rate --campaign``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    priority: Priority = Field("normal", description="urgent, normal or bulk: a higher class is served first")
    weight: float = Field(1.0, gt=0, le=1000, description="share against campaigns of the same class")
    max_rate: dict[Channel, float] = Field(
        {}, description="own cap per channel, numbers per second (e.g. { smart = 200 })"
    )
    transactional: bool = Field(
        False,
        description="a notice the recipient needs (a code, a fraud alert): exempt from the account's "
        "contact-frequency caps and not counted against them, like an urgent campaign",
    )

    @field_validator("max_rate")
    @classmethod
    def _rates_in_range(cls, value: dict[Channel, float]) -> dict[Channel, float]:
        for channel, rate in value.items():
            problem = RATE.problem(rate)
            if problem is not None:
                raise ValueError(f"{channel}: {problem}")
        return value
