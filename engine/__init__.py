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
from engine.campaign import CampaignSpec, load_spec
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
from engine.forecast import Forecast
from engine.planner import SubmitResult
from engine.queue import open_queue
from engine.report import Report
from engine.settings import Settings, load_settings

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
