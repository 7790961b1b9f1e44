"""What the provider account offers, read-only, for the console's pickers: templates and channel numbers."""

from __future__ import annotations

from typing import Any

import engine.api as api
from engine.plan.catalog import Catalog
from engine.service.operations import Call
from engine.service.routes import API
from engine.service.tokens import Role


@API.op("GET", "/provider/catalog", role=Role.VIEWER, tag="provider", answer=Catalog,
        summary="Smart and basic-edition templates and channel numbers of the account")  # fmt: skip
async def provider_catalog(call: Call[Any, Any]) -> Catalog:
    return await api.provider_catalog(call.services.settings)
