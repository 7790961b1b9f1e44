"""Provider simulator: KooMessage + Message&SMS HTTP API on loopback, with limits, faults and a ledger."""

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
