"""What a service says about its provider when it starts: where it sends and with which credentials (masked),
so an operator reading a worker's log sees at once a worker sending to the simulator, or with the demo
credentials, that was meant for the real provider."""

from __future__ import annotations

from engine.runtime.settings import (
    DEMO_AK,
    DEMO_SK,
    DEMO_SMS_APP_KEY,
    DEMO_SMS_APP_SECRET,
    ProviderSettings,
    Settings,
)

DEMO = frozenset({DEMO_AK, DEMO_SK, DEMO_SMS_APP_KEY, DEMO_SMS_APP_SECRET})
DEFAULT_URLS = frozenset(
    ProviderSettings.model_fields[name].default for name in ("koomessage_url", "smsapi_url")
)


def masked(key: str) -> str:
    """``KDDE…0000``: enough to tell two keys apart, never the key (secrets are never shown at all)."""
    return f"{key[:4]}…{key[-4:]}" if len(key) > 12 else "…"


def provider_lines(settings: Settings) -> list[str]:
    """One line per provider API: its URL, the key sent there (masked) and whether it is a demo one."""
    ak = settings.ak.get_secret_value()
    app_key = settings.sms_app_key.get_secret_value()
    apis = [
        ("KooMessage", settings.provider.koomessage_url, ak, (ak, settings.sk.get_secret_value())),
        (
            "Message&SMS",
            settings.provider.smsapi_url,
            app_key,
            (app_key, settings.sms_app_secret.get_secret_value()),
        ),
    ]
    lines = []
    for name, url, key, credentials in apis:
        demo = any(value in DEMO for value in credentials)
        whose = "the DEMO credentials (the built-in simulator only)" if demo else f"key {masked(key)}"
        default = " (the default: the local simulator)" if url in DEFAULT_URLS else ""
        lines.append(f"provider {name} at {url}{default} with {whose}")
    return lines
