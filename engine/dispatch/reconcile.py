"""Reconciliation: ask the provider whether a call with our client reference landed, before any resend."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from engine.provider.koomessage import KooMessageClient
from engine.provider.models import SendResult

LOOKBACK = timedelta(days=3)  # a journaled call is never older than the campaign's send window


def _window() -> tuple[str, str]:
    now = datetime.now(UTC)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return (now - LOOKBACK).strftime(fmt), (now + timedelta(minutes=5)).strftime(fmt)


async def find_smart(client: KooMessageClient, ref: str, numbers: Sequence[str]) -> SendResult | None:
    """The smart send task named ``ref`` (our task_name), or None when the provider never got it."""
    begin, end = _window()
    found = await client.list_aim_send_tasks(task_name=ref, begin_time=begin, end_time=end, limit=10)
    for task in found.items:
        if task.task_name == ref:
            failed = dict(task.failed)
            return SendResult(task.task_id, tuple(n for n in numbers if n not in failed), failed)
    return None


async def find_basic(client: KooMessageClient, ref: str, numbers: Sequence[str]) -> SendResult | None:
    """The basic-edition task named ``ref``, or None when the provider never got it."""
    begin, end = _window()
    found = await client.list_vms_send_tasks(task_name=ref, begin_time=begin, end_time=end, limit=10)
    for task in found.items:
        if task.task_name == ref:
            return SendResult(task.task_id, tuple(numbers), {})
    return None
