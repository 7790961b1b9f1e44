"""The Redis address as one URL: REDIS_URL as given, or the ``redis+sentinel://`` URL REDIS_SENTINELS makes.

One string travels everywhere a Redis is named (worker processes get it as REDIS_URL, CLI commands, the
services); ``engine/store/sentinel.py`` reads it back when it connects.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from engine.types import SENTINEL_SCHEME


def sentinel_url(sentinels: str, master: str, password: str | None, sentinel_password: str | None) -> str:
    """The URL of the primary named ``master`` by the sentinels at ``sentinels`` (``host:port,...``), whose
    servers take ``password`` and sentinels ``sentinel_password`` (either may be None)."""
    hosts = ",".join(part.strip() for part in sentinels.split(",") if part.strip())
    credentials = f":{quote(password, safe='')}@" if password else ""
    query = f"?{urlencode({'sentinel_password': sentinel_password})}" if sentinel_password else ""
    return f"{SENTINEL_SCHEME}://{credentials}{hosts}/{quote(master, safe='')}/0{query}"
