"""What the provider account offers a campaign author: templates and channel numbers, for pickers."""

from __future__ import annotations

from dataclasses import dataclass

from engine.provider.http import ProviderHttp
from engine.provider.koomessage import KooMessageClient
from engine.provider.models import AimTemplateInfo, PortInfo, VmsTemplateInfo
from engine.runtime.settings import Settings

LIMIT = 100  # the provider's page size


@dataclass(frozen=True, slots=True)
class Catalog:
    """Smart-message templates, basic-edition templates, channel numbers (ports) and their signatures."""

    smart_templates: tuple[AimTemplateInfo, ...]
    basic_templates: tuple[VmsTemplateInfo, ...]
    ports: tuple[PortInfo, ...]


async def catalog(settings: Settings) -> Catalog:
    """The first page of each list, read on one HTTP session; raises ProviderError."""
    async with ProviderHttp(settings) as http:
        client = KooMessageClient.from_settings(http, settings)
        smart = await client.list_aim_templates(limit=LIMIT)
        basic = await client.list_vms_templates(limit=LIMIT)
        ports = await client.list_port_infos(limit=LIMIT)
    return Catalog(smart.items, basic.items, ports.items)
