"""koodispatch: exactly-once bulk dispatch of KooMessage smart messages."""

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
