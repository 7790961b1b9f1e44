"""Provider simulator: KooMessage + Message&SMS HTTP API on loopback, with limits, faults and a ledger.

It serves the paths and models of the official SDKs, verifies SDK-HMAC-SHA256 signatures, rejects what
breaks the contract's per-request limits with the documented KM codes, admits each channel (capability,
smart, sms, basic) at a configurable numbers-per-second rate, injects latency and failures, posts status
reports, and ledgers every accepted number. Admin endpoints, each but health behind the admin token in
``X-Simulator-Token`` (``RunningSimulator.admin_token``; printed by ``koodispatch simulate``):

    GET|POST /_simulator/config   live SimConfig (POST merges a JSON patch; unknown keys are a 400)
    GET  /_simulator/ledger       accepted/unique/duplicates per channel, calls, throttled, rejected, faults
                                  (?channel=smart, ?detail=1 for per-number counts and references,
                                  ?campaigns=1 per campaign per second, ?totals=1 per campaign in all
                                  with its first and last acceptance time)
    POST /_simulator/reset        forget ledger, tasks and rate state
    GET  /_simulator/health       readiness

In Python: ``run_simulator`` (current loop) and ``SimulatorThread`` (own thread) in ``testing``.
"""

from engine.simulator.app import build_app
from engine.simulator.capability import is_capable, normalize_mobile
from engine.simulator.config import CallbackConfig, FaultConfig, RateConfig, SimConfig
from engine.simulator.ledger import Ledger
from engine.simulator.testing import RunningSimulator, SimulatorThread, run_simulator

__all__ = [
    "CallbackConfig",
    "FaultConfig",
    "Ledger",
    "RateConfig",
    "RunningSimulator",
    "SimConfig",
    "SimulatorThread",
    "build_app",
    "is_capable",
    "normalize_mobile",
    "run_simulator",
]
