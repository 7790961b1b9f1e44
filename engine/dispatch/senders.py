"""One sender per send channel: shape a chunk into its provider call, and find a call the provider got.

``send`` makes the call; ``find`` asks the provider whether a call with this client reference landed
(reconciliation after a crash or an ambiguous answer) and returns its result, ``None`` when the provider
has no record of it, or raises ``Unconfirmable`` when the channel offers no way to tell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from engine.dispatch.reconcile import find_basic, find_smart
from engine.errors import Unconfirmable
from engine.ingest.spec import CampaignSpec
from engine.provider.koomessage import KooMessageClient
from engine.provider.limits import BASIC_MAX_MOBILES, KM_SMS_MAX_TO, SMART_SEND_MAX_PARAMS, SMSAPI_MAX_TO
from engine.provider.models import SendResult, SmartParam, SmsChannel
from engine.provider.smsapi import SmsApiClient
from engine.state.batches import Batch
from engine.state.records import Stage
from engine.types import Channel


@dataclass(frozen=True, slots=True)
class Chunk:
    """The recipients (indices into the batch) of one provider call and its client reference."""

    ref: str
    indices: tuple[int, ...]

    def numbers(self, batch: Batch) -> list[str]:
        return [batch.numbers[i] for i in self.indices]


class Sender(Protocol):
    stage: Stage
    channel: Channel
    chunk_size: int

    async def send(self, chunk: Chunk, batch: Batch) -> SendResult: ...

    async def find(self, chunk: Chunk, batch: Batch) -> SendResult | None: ...


class SmartSender:
    """Smart messages: individual-mode send tasks, ≤100 numbers, ``cust_flag`` = the number."""

    stage = Stage.SMART
    channel: Channel = "smart"
    chunk_size = SMART_SEND_MAX_PARAMS

    def __init__(self, client: KooMessageClient, spec: CampaignSpec) -> None:
        self.client = client
        self.spec = spec
        ch = spec.sms_channel
        self.sms_channel = SmsChannel(ch.channel_number, ch.sms_template_id, ch.signature, ch.app_name)

    def _params(self, chunk: Chunk, batch: Batch) -> list[SmartParam]:
        """One SmartParam per recipient, gathered column by column (this runs for every message sent)."""
        smart = self.spec.smart
        at = chunk.indices
        mobiles = chunk.numbers(batch)
        columns = [[values[i] for i in at] for values in (batch.params[c] for c in smart.sms_params)]
        rows: list[tuple[str, ...]] = list(zip(*columns, strict=True)) if columns else [()] * len(at)
        if not smart.dync_params:
            return [SmartParam(mobile, row) for mobile, row in zip(mobiles, rows, strict=True)]
        dync = [(var, batch.params[column]) for var, column in smart.dync_params.items()]
        maps = [{var: values[i] for var, values in dync} for i in at]
        return [SmartParam(*param) for param in zip(mobiles, rows, maps, strict=True)]

    async def send(self, chunk: Chunk, batch: Batch) -> SendResult:
        params = self._params(chunk, batch)
        smart = self.spec.smart
        return await self.client.create_aim_send_task(
            chunk.ref, self.sms_channel, smart.template_id, params, expiration_days=smart.expiration_days
        )

    async def find(self, chunk: Chunk, batch: Batch) -> SendResult | None:
        return await find_smart(self.client, chunk.ref, chunk.numbers(batch))


def sms_chunk_size(via: str) -> int:
    """Numbers per plain-SMS call through ``via`` ("koomessage" or "smsapi"); the forecast uses it too."""
    return KM_SMS_MAX_TO if via == "koomessage" else SMSAPI_MAX_TO


class SmsSender:
    """Plain SMS fallback (降级为普通短信) through KooMessage's SMS API or the Message&SMS API."""

    stage = Stage.SMS
    channel: Channel = "sms"

    def __init__(self, koo: KooMessageClient, smsapi: SmsApiClient, spec: CampaignSpec, via: str) -> None:
        self.koo = koo
        self.smsapi = smsapi
        self.spec = spec
        self.via = spec.fallback.via or via
        self.chunk_size = sms_chunk_size(self.via)

    @property
    def template_id(self) -> str:
        return self.spec.fallback.sms_template_id or self.spec.sms_channel.sms_template_id

    def _contents(self, chunk: Chunk, batch: Batch) -> list[tuple[list[str], str, list[str]]]:
        columns = self.spec.fallback.sms_params
        return [([batch.numbers[i]], self.template_id, batch.row(i, columns)) for i in chunk.indices]

    async def send(self, chunk: Chunk, batch: Batch) -> SendResult:
        numbers = chunk.numbers(batch)
        personal = bool(self.spec.fallback.sms_params)
        channel_number = self.spec.sms_channel.channel_number
        if self.via == "smsapi":
            if personal:
                return await self.smsapi.batch_send_diff_sms(
                    channel_number, self._contents(chunk, batch), extend=chunk.ref
                )
            return await self.smsapi.batch_send_sms(
                channel_number, numbers, self.template_id, [], extend=chunk.ref
            )
        if personal:
            return await self.koo.send_diff_sms(
                self._contents(chunk, batch), channel_num=channel_number, extend=chunk.ref, task_name=None
            )
        return await self.koo.send_sms(
            self.template_id, numbers, [], channel_num=channel_number, extend=chunk.ref
        )

    async def find(self, chunk: Chunk, batch: Batch) -> SendResult | None:
        raise Unconfirmable("plain SMS has no send query; only status reports can confirm it")


class BasicSender:
    """Basic edition (智能信息基础版, video SMS): one task of ≤5000 numbers, positional #p_N# params."""

    stage = Stage.BASIC
    channel: Channel = "basic"
    chunk_size = BASIC_MAX_MOBILES

    def __init__(self, client: KooMessageClient, spec: CampaignSpec) -> None:
        self.client = client
        self.spec = spec

    async def send(self, chunk: Chunk, batch: Batch) -> SendResult:
        fallback = self.spec.fallback
        tpl = fallback.basic_template_id or ""
        hours = fallback.basic_expiration_hours
        if fallback.basic_params:
            individual = [([batch.numbers[i]], batch.row(i, fallback.basic_params)) for i in chunk.indices]
            return await self.client.create_vms_send_task(
                chunk.ref, tpl, individual=individual, expiration_hours=hours, exdata=chunk.ref
            )
        return await self.client.create_vms_send_task(
            chunk.ref, tpl, mobiles=chunk.numbers(batch), expiration_hours=hours, exdata=chunk.ref
        )

    async def find(self, chunk: Chunk, batch: Batch) -> SendResult | None:
        return await find_basic(self.client, chunk.ref, chunk.numbers(batch))


def fallback_sender(
    spec: CampaignSpec, koo: KooMessageClient, smsapi: SmsApiClient, default_via: str
) -> Sender | None:
    """The sender for numbers that cannot get the smart message, by the campaign's policy."""
    policy = spec.fallback.policy
    if policy == "sms":
        return SmsSender(koo, smsapi, spec, default_via)
    if policy == "basic":
        return BasicSender(koo, spec)
    return None


def cut(ref_prefix: str, indices: Sequence[int], size: int) -> list[Chunk]:
    """Deterministic chunks of ``indices``: chunk ``k`` always holds the same numbers for the same batch."""
    return [
        Chunk(f"{ref_prefix}:{k}", tuple(indices[start : start + size]))
        for k, start in enumerate(range(0, len(indices), size))
    ]
