"""The served API's fixtures (``tests/served.py``), shared with the console's browser tests."""

from tests.served import Api, api, settings

__all__ = ["Api", "api", "settings"]
