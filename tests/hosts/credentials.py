"""Credentials of one run across hosts: the public demo ones are for loopback only, and hosts talk over a
bridge (``settings._check_demo_credentials`` refuses them off loopback)."""

from __future__ import annotations

import secrets


def private_credentials() -> dict[str, str]:
    """Fresh KooMessage and Message&SMS credentials, as the environment variables every engine process and
    the simulator read (set them before the simulator starts)."""
    names = ("AK", "SK", "SMS_APP_KEY", "SMS_APP_SECRET")
    return {f"KOODISPATCH_{name}": secrets.token_hex(16) for name in names}
