"""Modules a dependency imports but koodispatch never uses, loaded only if something touches them.

redis-py imports PyJWT (and through it ``cryptography``) at module level for Entra ID token
authentication, which koodispatch does not use: ~40 ms of every command's start, a third of the budget a
``koodispatch pause`` has over the bare interpreter. Such a module is registered as a stand-in whose first
attribute lookup (``jwt.decode``, were token auth ever configured) imports the real module and answers
from it, so nothing changes for code that does use it. The standard library's ``LazyLoader`` does not do
here: the import statement itself reads the module's ``__spec__``, which makes it load at once.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any, Final

UNUSED_BY_US: Final = ("jwt",)  # imported by redis.auth.token for token auth only


class _StandIn(types.ModuleType):
    """Takes a module's place in ``sys.modules`` until one of its attributes is asked for."""

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):  # the import machinery's probes (__path__, __file__, ...)
            raise AttributeError(attr)
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attr)


def defer_imports(names: tuple[str, ...] = UNUSED_BY_US) -> None:
    """Put a stand-in in place of each of ``names`` not yet imported and installed (others are skipped)."""
    for name in names:
        if name not in sys.modules and importlib.util.find_spec(name) is not None:
            sys.modules[name] = _StandIn(name)
