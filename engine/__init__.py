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
    "CampaignSpec": "engine.ingest.spec",
    "ConfigError": "engine.errors",
    "DispatchError": "engine.errors",
    "Forecast": "engine.plan.forecast",
    "InputError": "engine.errors",
    "ProviderError": "engine.errors",
    "Report": "engine.reports.summary",
    "Settings": "engine.runtime.settings",
    "StateError": "engine.errors",
    "StateLost": "engine.errors",
    "SubmitResult": "engine.plan.planner",
    "TerminalError": "engine.errors",
    "TransientError": "engine.errors",
    "campaign_report": "engine.api",
    "campaign_status": "engine.api",
    "cancel": "engine.api",
    "load_settings": "engine.runtime.settings",
    "load_spec": "engine.ingest.spec",
    "open_queue": "engine.store.connection",
    "pause": "engine.api",
    "plan_campaign": "engine.api",
    "resend_failed": "engine.api",
    "resume": "engine.api",
    "set_rates": "engine.api",
    "submit_campaign": "engine.api",
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
