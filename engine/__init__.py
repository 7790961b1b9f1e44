"""koodispatch: exactly-once bulk dispatch of KooMessage smart messages.

The public API, imported lazily (PEP 562): ``import engine`` loads none of the engine, so a command-line
start or ``import engine.simulator`` pays only for what it uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine._lazy import exports

if TYPE_CHECKING:  # what mypy and editors see (``as``: re-exported); at run time, __getattr__
    from engine.api import campaign_report as campaign_report
    from engine.api import campaign_status as campaign_status
    from engine.api import cancel as cancel
    from engine.api import pause as pause
    from engine.api import plan_campaign as plan_campaign
    from engine.api import resend_failed as resend_failed
    from engine.api import resume as resume
    from engine.api import set_rates as set_rates
    from engine.api import submit_campaign as submit_campaign
    from engine.errors import ConfigError as ConfigError
    from engine.errors import DispatchError as DispatchError
    from engine.errors import InputError as InputError
    from engine.errors import ProviderError as ProviderError
    from engine.errors import StateError as StateError
    from engine.errors import StateLost as StateLost
    from engine.errors import TerminalError as TerminalError
    from engine.errors import TransientError as TransientError
    from engine.ingest.spec import CampaignSpec as CampaignSpec
    from engine.ingest.spec import load_spec as load_spec
    from engine.plan.forecast import Forecast as Forecast
    from engine.plan.planner import SubmitResult as SubmitResult
    from engine.reports.summary import Report as Report
    from engine.runtime.settings import Settings as Settings
    from engine.runtime.settings import load_settings as load_settings
    from engine.store.connection import open_queue as open_queue

_EXPORTS = {
    "engine.api": (
        "campaign_report",
        "campaign_status",
        "cancel",
        "pause",
        "plan_campaign",
        "purge",
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
__getattr__, __dir__, __all__ = exports(__name__, _EXPORTS)
