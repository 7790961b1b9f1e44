"""The API's operations, one module per resource; ``API`` holds them all."""

from __future__ import annotations

from engine.service.operations import Api

API = Api()


def load() -> Api:
    """``API`` with every route module's operations registered (importing a module registers them)."""
    from engine.service.routes import (  # noqa: F401
        admin,
        campaigns,
        catalog,
        control,
        events,
        session,
        submit,
        suppression,
    )

    return API
