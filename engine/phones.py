"""Mobile numbers in text: masked (``130****0001``), the only form in which one may reach a log or an error.

Pure Python and cheap to import: every command line error passes through :func:`mask_numbers`.
"""

from __future__ import annotations

import re
from typing import Final

# A mobile number inside free text (an error message, a log line), with or without its country prefix.
_IN_TEXT: Final = re.compile(r"(?<![0-9A-Za-z])(?:\+?86[ -]?|0086)?1[0-9]{10}(?![0-9])")


def mask(number: str) -> str:
    """``130****0001``: the only form in which a number may appear in logs, errors and reports."""
    if len(number) >= 8:
        return f"{number[:3]}****{number[-4:]}"
    return "*" * len(number)


def mask_numbers(text: str) -> str:
    """``text`` with every mobile number in it masked, for output whose content we do not control."""
    return _IN_TEXT.sub(lambda found: mask(found.group()), text)
