"""``callbacks register`` prints the URLs to paste, token included: a literal ``<token>`` was no use."""

from __future__ import annotations

from pathlib import Path

from engine.simulator import SimulatorThread
from tests.commands import cli_env
from tests.terminal import terminal

TOKEN = "tok-0123456789abcdefghij"


def test_register_prints_the_real_sms_urls_to_paste(
    tmp_path: Path, redis_url: str, sim: SimulatorThread
) -> None:
    env = cli_env(redis_url, sim.url, KOODISPATCH_RECEIPTS_TOKEN=TOKEN)

    with terminal(
        "callbacks", "register", "--url", "https://receipts.example.com", env=env, columns=200
    ) as term:
        assert term.wait() == 0, term.text

    assert (
        f"SMS sms (set in the SMS application): https://receipts.example.com/receipts/{TOKEN}/sms"
        in term.text
    )
    assert f"https://receipts.example.com/receipts/{TOKEN}/uplink" in term.text
    assert f"registered aim url_type 2: https://receipts.example.com/receipts/{TOKEN}/smart" in term.text
    assert "<token>" not in term.text
