"""Lazy package exports (PEP 562): a name is imported from its module on first use, not with the package.

``import engine`` (or ``engine.provider``) then costs nothing beyond the package itself, so a command that
needs one small module (``koodispatch pause``) does not pay for polars, aiohttp or arq on every start.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def exports(
    package: str, table: Mapping[str, Iterable[str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``__getattr__``, ``__dir__`` and ``__all__`` for ``package``, whose public names live in the modules
    ``table`` maps to them (module → names); ``__all__`` lists classes first, then functions.

    The getattr raises AttributeError for any other name, as a module's own attribute lookup would.
    """
    home = {name: module for module, names in table.items() for name in names}

    def getattr_(name: str) -> Any:
        module = home.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    def dir_() -> list[str]:
        return sorted(home)

    return getattr_, dir_, sorted(home, key=lambda name: (not name[0].isupper(), name))
