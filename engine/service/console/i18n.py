"""The console's message catalogues, one JSON file per language under ``messages/``; pages and scripts
read every text from them, so a language is added by adding a file, not by editing templates."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Final

import orjson

LANGUAGES: Final = ("zh", "en")  # the first is the default
LANG_COOKIE: Final = "kd_lang"


@cache
def catalogue(lang: str) -> dict[str, str]:
    """The messages of ``lang`` (one of ``LANGUAGES``), read once."""
    text = resources.files(__package__).joinpath("messages", f"{lang}.json").read_bytes()
    messages: dict[str, str] = orjson.loads(text)
    return messages


def choose(asked: str | None, remembered: str | None) -> str:
    """The language a page is shown in: the one just asked for (``?lang=``), else the remembered one,
    else the default."""
    for lang in (asked, remembered):
        if lang in LANGUAGES:
            return lang
    return LANGUAGES[0]
