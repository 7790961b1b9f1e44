"""``koodispatch simulate``: run the provider simulator in the foreground until Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from engine.cli.app import app
from engine.cli.common import run
from engine.errors import ConfigError
from engine.runtime.net import is_loopback_host

if TYPE_CHECKING:
    from engine.simulator.config import SimConfig


def parse_latency(text: str) -> list[float]:
    """``"20"`` -> [20, 20]; ``"10-50"`` -> [10, 50] (milliseconds)."""
    low, _, high = text.partition("-")
    try:
        return [float(low), float(high or low)]
    except ValueError:
        raise typer.BadParameter("use MIN or MIN-MAX in milliseconds, e.g. 10-50") from None


def build_changes(options: dict[str, Any], config_file: Path | None) -> dict[str, Any]:
    """SimConfig patch from a JSON file (if any) with the command-line flags on top."""
    changes: dict[str, Any] = json.loads(config_file.read_text()) if config_file else {}
    rates = {k: v for k, v in options.pop("rates").items() if v is not None}
    faults = {k: v for k, v in options.pop("faults").items() if v is not None}
    if rates:
        changes.setdefault("rates", {}).update(rates)
    if faults:
        changes.setdefault("faults", {}).update(faults)
    changes.update({k: v for k, v in options.items() if v is not None})
    return changes


TOKEN_VARIABLE = "KOODISPATCH_SIMULATOR_TOKEN"


async def _serve(config: SimConfig, host: str, port: int, access_log: bool) -> None:
    """Serve until SIGINT (Ctrl-C) or SIGTERM, then shut down cleanly.

    The admin token comes from KOODISPATCH_SIMULATOR_TOKEN (for scripts that start the simulator) or is
    drawn at random and printed: whoever runs the simulator reads it from its output, nobody else can.
    """
    from engine.runtime.gc_tuning import tune_for_service
    from engine.simulator.testing import run_simulator

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    given = os.environ.get(TOKEN_VARIABLE) or None
    async with run_simulator(config, host, port, access_log=access_log, admin_token=given) as sim:
        tune_for_service()
        typer.echo(
            f"KooMessage + Message&SMS simulator listening on {sim.url} (admin: {sim.url}/_simulator/)"
        )
        token = f"from {TOKEN_VARIABLE}" if given else sim.admin_token
        typer.echo(f"admin token: {token} (send it as X-Simulator-Token to /_simulator/*)")
        typer.echo("credentials: KOODISPATCH_AK/SK/PROJECT_ID/SMS_APP_* or the demo ones; Ctrl-C stops")
        await stop.wait()
    typer.echo("simulator stopped")


Rate = Annotated[float | None, typer.Option(help="numbers per second (0 = unlimited)", show_default=False)]
Share = Annotated[float | None, typer.Option(min=0.0, max=1.0, show_default=False)]


@app.command()
def simulate(
    host: Annotated[str, typer.Option(help="address to bind; keep it on loopback")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to bind (0 = any free port)")] = 8640,
    smart_rate: Rate = None,
    sms_rate: Rate = None,
    basic_rate: Rate = None,
    capability_rate: Rate = None,
    capable_share: Share = None,
    latency_ms: Annotated[str | None, typer.Option(help="MIN[-MAX] added latency in ms")] = None,
    error_rate: Share = None,
    timeout_rate: Share = None,
    timeout_sleep: Annotated[float | None, typer.Option(help="seconds a timed-out call hangs")] = None,
    drop_rate: Share = None,
    drop_after_accept_rate: Share = None,
    seed: Annotated[int | None, typer.Option(help="seed for repeatable faults and outcomes")] = None,
    config_file: Annotated[
        Path | None, typer.Option("--config", help="JSON SimConfig patch", exists=True)
    ] = None,
    access_log: Annotated[bool, typer.Option(help="log every request")] = False,
) -> None:
    """Serve the KooMessage + Message&SMS provider simulator (signed API, limits, rates, faults, ledger)."""
    from engine.simulator.config import SimConfig

    rates = {"smart": smart_rate, "sms": sms_rate, "basic": basic_rate, "capability": capability_rate}
    faults = {
        "latency_ms": parse_latency(latency_ms) if latency_ms else None,
        "error_share": error_rate,
        "timeout_share": timeout_rate,
        "timeout_sleep_s": timeout_sleep,
        "drop_share": drop_rate,
        "drop_after_accept_share": drop_after_accept_rate,
    }
    options = {"rates": rates, "faults": faults, "capable_share": capable_share, "seed": seed}
    try:
        config = SimConfig.from_dict(build_changes(options, config_file))
    except (ConfigError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from None
    if not is_loopback_host(host):
        typer.echo(
            f"warning: binding {host}, which is not loopback; the demo credentials are public", err=True
        )
    run(lambda: _serve(config, host, port, access_log), service=True)  # shares the CPU in benchmarks
