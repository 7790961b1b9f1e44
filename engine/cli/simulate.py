"""``koodispatch simulate``: run the provider simulator in the foreground until Ctrl-C."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from engine.cli.app import app
from engine.cli.common import fail, run, settings, stop_on_signals
from engine.errors import ConfigError
from engine.provider.callbacks import receipt_url
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


def callback_changes(
    receipts_url: str | None, delivered_share: float | None, reply_share: float | None, reply_text: str | None
) -> dict[str, Any]:
    """The ``callbacks`` section from the flags: every channel's status reports and replies posted to
    ``koodispatch receipts`` at ``receipts_url`` (with the receipts token of the settings), delivered at
    ``delivered_share`` (the rest UNDELIV), ``reply_share`` of the delivered numbers replying."""
    changes: dict[str, Any] = {}
    if receipts_url is not None:
        token = settings().receipts_token
        if token is None:
            fail("--receipts-url: KOODISPATCH_RECEIPTS_TOKEN is not set (the receipt URLs carry it)")
        assert token is not None
        changes.update(receipt_callbacks(receipts_url, token.get_secret_value()))
    if delivered_share is not None:
        changes["outcomes"] = {"DELIVRD": delivered_share, "UNDELIV": 1.0 - delivered_share}
    if reply_share is not None:
        changes["uplink_share"] = reply_share
    if reply_text is not None:
        changes["uplink_text"] = reply_text
    return changes


# CallbackConfig field -> the receipts service's route for it
RECEIPT_ROUTES: Final = {
    "smart_batch_url": "smart",
    "basic_url": "basic",
    "basic_uplink_url": "basic-uplink",
    "sms_url": "sms",
    "sms_uplink_url": "uplink",
}


def receipt_callbacks(base: str, token: str) -> dict[str, str]:
    """The simulator's ``callbacks`` URLs posting every channel's reports to ``koodispatch receipts``."""
    return {field: receipt_url(base, token, route) for field, route in RECEIPT_ROUTES.items()}


def build_changes(options: dict[str, Any], config_file: Path | None) -> dict[str, Any]:
    """SimConfig patch from a JSON file (if any) with the command-line flags on top."""
    changes: dict[str, Any] = json.loads(config_file.read_text()) if config_file else {}
    callbacks = options.pop("callbacks")
    if callbacks:
        changes.setdefault("callbacks", {}).update(callbacks)
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

    stop = stop_on_signals()
    given = os.environ.get(TOKEN_VARIABLE) or None
    async with run_simulator(config, host, port, access_log=access_log, admin_token=given) as sim:
        tune_for_service()
        typer.echo(f"KooMessage + Message&SMS simulator listening on {sim.url}")
        token = f"from {TOKEN_VARIABLE}" if given else sim.admin_token
        typer.echo(
            f"admin token: {token} (send it as X-Simulator-Token to the admin API: "
            f"{sim.url}/_simulator/config, /ledger, /reset; no web page)"
        )
        receipts = config.callbacks.sms_url
        typer.echo(
            f"receipts: posted to {receipts.split('/receipts/')[0]}"
            if receipts
            else "receipts: off (--receipts-url URL posts them to `koodispatch receipts`)"
        )
        typer.echo("credentials: KOODISPATCH_AK/SK/PROJECT_ID/SMS_APP_* or the demo ones; Ctrl-C stops")
        await stop.wait()
    typer.echo("simulator stopped")


Rate = Annotated[float | None, typer.Option(help="numbers per second (0 = unlimited)", show_default=False)]


def share(help_text: str) -> Any:
    """A 0..1 option described by ``help_text``."""
    return typer.Option(min=0.0, max=1.0, show_default=False, help=help_text)


@app.command()
def simulate(
    host: Annotated[str, typer.Option(help="address to bind; keep it on loopback")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to bind (0 = any free port)")] = 8640,
    smart_rate: Rate = None,
    sms_rate: Rate = None,
    basic_rate: Rate = None,
    capability_rate: Rate = None,
    capable_share: Annotated[
        float | None, share("share of valid numbers that can show smart messages (default 0.7)")
    ] = None,
    latency_ms: Annotated[str | None, typer.Option(help="MIN[-MAX] added latency in ms")] = None,
    error_rate: Annotated[float | None, share("share of calls answered 500 (not applied)")] = None,
    timeout_rate: Annotated[float | None, share("share of calls answered only after --timeout-sleep")] = None,
    timeout_sleep: Annotated[float | None, typer.Option(help="seconds a timed-out call hangs")] = None,
    drop_rate: Annotated[
        float | None, share("share of calls whose connection is closed unanswered, not applied")
    ] = None,
    drop_after_accept_rate: Annotated[
        float | None, share("share of calls applied, then closed unanswered (the lost answer)")
    ] = None,
    receipts_url: Annotated[
        str | None,
        typer.Option(help="post status reports and replies of every channel to `koodispatch receipts` here"),
    ] = None,
    delivered_share: Annotated[
        float | None, share("share of accepted numbers reported DELIVRD, the rest UNDELIV")
    ] = None,
    reply_share: Annotated[float | None, share("share of delivered numbers that send a reply")] = None,
    reply_text: Annotated[
        str | None, typer.Option(help="the reply they send (default TD, an opt-out)", show_default=False)
    ] = None,
    seed: Annotated[int | None, typer.Option(help="seed for repeatable faults and outcomes")] = None,
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config",
            exists=True,
            help="JSON file of simulator settings, as GET /_simulator/config shows them (rates, faults, "
            "callbacks, capable_share, templates ...); the flags apply on top",
        ),
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
    callbacks = callback_changes(receipts_url, delivered_share, reply_share, reply_text)
    options = {
        "rates": rates,
        "faults": faults,
        "callbacks": callbacks,
        "capable_share": capable_share,
        "seed": seed,
    }
    try:
        config = SimConfig.from_dict(build_changes(options, config_file))
    except (ConfigError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from None
    if not is_loopback_host(host):
        typer.echo(
            f"warning: binding {host}, which is not loopback; the demo credentials are public", err=True
        )
    run(lambda: _serve(config, host, port, access_log), service=True)  # shares the CPU in benchmarks
