"""koodispatch: exactly-once bulk dispatch of KooMessage smart messages.

The public API, imported lazily (PEP 562): ``import engine`` loads none of the engine, so a command-line
start or ``import engine.simulator`` pays only for what it uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine._lazy import exports

if TYPE_CHECKING:  # what mypy and editors see; at run time the names come from __getattr__
    from engine.api import (
        campaign_report,
        campaign_status,
        cancel,
        pause,
        plan_campaign,
        resend_failed,
        resume,
        set_rates,
        submit_campaign,
    )
    from engine.errors import (
        ConfigError,
        DispatchError,
        InputError,
        ProviderError,
        StateError,
        StateLost,
        TerminalError,
        TransientError,
    )
    from engine.ingest.spec import CampaignSpec, load_spec
    from engine.plan.forecast import Forecast
    from engine.plan.planner import SubmitResult
    from engine.reports.summary import Report
    from engine.runtime.settings import Settings, load_settings
    from engine.store.connection import open_queue

_EXPORTS = {
    "engine.api": (
        "campaign_report",
        "campaign_status",
        "cancel",
        "pause",
        "plan_campaign",
        "resend_failed",
        "resume",
        "set_rates",
        "submit_campaign",
    ),
    "engine.errors": (
        "ConfigError",
        "DispatchError",
        "InputError",
        "ProviderError",
        "StateError",
        "StateLost",
        "TerminalError",
        "TransientError",
    ),
    "engine.ingest.spec": ("CampaignSpec", "load_spec"),
    "engine.plan.forecast": ("Forecast",),
    "engine.plan.planner": ("SubmitResult",),
    "engine.reports.summary": ("Report",),
    "engine.runtime.settings": ("Settings", "load_settings"),
    "engine.store.connection": ("open_queue",),
}
__getattr__, __dir__ = exports(__name__, _EXPORTS)
__all__ = [
    "CampaignSpec",
    "ConfigError",
    "DispatchError",
    "Forecast",
    "InputError",
    "ProviderError",
    "Report",
    "Settings",
    "StateError",
    "StateLost",
    "SubmitResult",
    "TerminalError",
    "TransientError",
    "campaign_report",
    "campaign_status",
    "cancel",
    "load_settings",
    "load_spec",
    "open_queue",
    "pause",
    "plan_campaign",
    "resend_failed",
    "resume",
    "set_rates",
    "submit_campaign",
]
