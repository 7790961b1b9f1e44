"""Provider and user text reaches the terminal as it is: rich markup in it is shown, never interpreted."""

from __future__ import annotations

from pathlib import Path

import pytest
from arq.connections import ArqRedis

from engine.state import control
from tests.commands import cli_env, koodispatch
from tests.failures import NUMBERS, accept, receipt
from tests.failures import submit_small as submit

REASON = "provider down: KM.0500 [/] [bold]answer[/bold] [link=https://evil.example]x"
STATUS = "[/]UNDELIV[red]"


@pytest.mark.parametrize("command", ["report", "status"])
async def test_markup_in_a_pause_reason_and_a_receipt_status_is_printed_as_text(
    arq_redis: ArqRedis, redis_url: str, tmp_path: Path, command: str
) -> None:
    cid = await submit(arq_redis, tmp_path)
    await accept(arq_redis, cid, "smart", 2)
    await receipt(arq_redis, cid, NUMBERS[0], "smart", False, STATUS)
    await control.pause(arq_redis, cid, REASON)  # as the worker pauses a campaign on an outage

    run = await koodispatch(command, cid, env=cli_env(redis_url, "http://127.0.0.1:1"))

    assert run.code == 0, run.err
    text = " ".join(run.out.split())  # rich wraps long lines
    assert REASON in text
    if command == "report":
        assert STATUS in text
