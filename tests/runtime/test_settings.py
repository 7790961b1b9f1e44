"""Settings: defaults, config/default.toml, environment overrides, unknown keys rejected."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from engine.cli.common import secrets_of
from engine.errors import ConfigError
from engine.runtime.settings import DEFAULT_CONFIG, Settings, load_settings


def test_default_toml_matches_the_model_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KOODISPATCH_CONFIG", str(tmp_path / "none.toml"))
    bare = load_settings()
    shipped = tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    for section, values in shipped.items():
        assert getattr(bare, section).model_dump(exclude_none=True) == values, section  # unset: commented


def test_environment_overrides_toml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOODISPATCH_RATES__SMART", "800")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/2")
    settings = load_settings()
    assert settings.rates.smart == 800 and settings.redis_url == "redis://127.0.0.1:1/2"


def test_sentinels_make_one_redis_address(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().replicas_to_ack == 0  # one Redis: no wait
    monkeypatch.setenv("REDIS_SENTINELS", "10.0.0.1:26379,10.0.0.2:26379")
    monkeypatch.setenv("REDIS_SENTINEL_MASTER", "kd")
    monkeypatch.setenv("REDIS_PASSWORD", "p@ss")
    monkeypatch.setenv("REDIS_SENTINEL_PASSWORD", "s&=?")
    settings = load_settings()
    address = settings.redis_address
    assert (
        address == "redis+sentinel://:p%40ss@10.0.0.1:26379,10.0.0.2:26379/kd/0?sentinel_password=s%26%3D%3F"
    )
    assert settings.replicas_to_ack == 1
    assert {"p@ss", "s&=?"} <= set(secrets_of(settings))  # redacted from every service's logs
    monkeypatch.setenv("REDIS_URL", address)  # what a worker process started by `run` gets beside them
    assert load_settings().redis_address == address
    monkeypatch.setenv("KOODISPATCH_REDIS__MIN_REPLICAS_ACK", "2")
    assert load_settings().replicas_to_ack == 2
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    with pytest.raises(ValidationError, match="name two Redis"):
        load_settings()


@pytest.mark.parametrize("name", ["KOODISPATCH_BOGUS", "KOODISPATCH_RATE__SMART"])
def test_unknown_environment_variable_is_an_error(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, "1")
    with pytest.raises(ConfigError, match=name):
        load_settings()


def test_unknown_nested_key_and_bad_value_are_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[rates]\nsmartt = 5\n", encoding="utf-8")
    monkeypatch.setenv("KOODISPATCH_CONFIG", str(config))
    with pytest.raises(ValidationError, match="smartt"):
        load_settings()
    monkeypatch.delenv("KOODISPATCH_CONFIG")
    monkeypatch.setenv("KOODISPATCH_RATES__SMART", "-1")
    with pytest.raises(ValidationError, match="smart"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value", "expect"),
    [("SMART", "1e-9", "1e-09 is outside the allowed range of 0.01 to 1,000,000 numbers per second"),
     ("BASIC", "2e6", "2000000 is outside"), ("SMS", "nan", "nan is outside"),
     ("CAPABILITY", "inf", "inf is outside"), ("CAPABILITY", "0", "0 is outside"),
     ("BURST_SECONDS", "61", "61 is outside the allowed range of 0.01 to 60 seconds"),
     ("BURST_SECONDS", "0.001", "0.001 is outside")],
)  # fmt: skip
def test_rates_and_burst_outside_their_range_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expect: str
) -> None:
    monkeypatch.setenv(f"KOODISPATCH_RATES__{name}", value)
    with pytest.raises(ValidationError) as refused:
        load_settings()
    [error] = refused.value.errors()
    assert error["loc"] == ("rates", name.lower()) and expect in error["msg"]


def test_secrets_never_show_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOODISPATCH_SK", "very-secret-sk")
    monkeypatch.setenv("KOODISPATCH_SMS_APP_SECRET", "very-secret-app")
    text = repr(load_settings()) + str(load_settings().model_dump())
    assert "very-secret" not in text
    assert isinstance(Settings.model_fields["sk"].description, str)


def test_a_secrets_file_everyone_may_write_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / "koodispatch.env"
    env_file.write_text("KOODISPATCH_AK=AKREAL0123\nKOODISPATCH_SK=sk-real\n", encoding="utf-8")
    monkeypatch.setenv("KOODISPATCH_ENV_FILE", str(env_file))
    env_file.chmod(0o666)
    with pytest.raises(ConfigError, match="every user may write"):
        load_settings()
    env_file.chmod(0o640)
    assert load_settings().ak.get_secret_value() == "AKREAL0123"


def test_a_missing_secrets_file_is_an_error_not_the_demo_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KOODISPATCH_ENV_FILE", str(tmp_path / "typo.env"))
    with pytest.raises(ConfigError, match=r"typo\.env: No such file"):
        load_settings()


REAL = {"ak": "AKREAL0123", "sk": "sk-real", "sms_app_key": "APPREAL", "sms_app_secret": "app-real"}


@pytest.mark.parametrize(
    ("provider", "credentials", "refused"),
    [
        ({"koomessage_url": "https://koomessage.example.com"}, {}, "KOODISPATCH_AK/SK"),
        ({"smsapi_url": "https://10.1.2.3:443"}, {}, "KOODISPATCH_SMS_APP_KEY/SECRET"),
        ({"koomessage_url": "https://koomessage.example.com"}, {"ak": "AKREAL0123"}, "KOODISPATCH_AK/SK"),
        ({"koomessage_url": "https://koomessage.example.com", "smsapi_url": "https://s.example"}, REAL, None),
        ({"koomessage_url": "http://localhost:8640", "smsapi_url": "http://[::1]:8640"}, {}, None),
        ({"koomessage_url": "http://127.0.0.2:8640"}, {}, None),
    ],
    ids=[
        "demo-ak-remote",
        "demo-app-key-remote",
        "demo-sk-remote",
        "real-remote",
        "demo-loopback",
        "demo-127/8",
    ],
)
def test_demo_credentials_never_go_off_this_machine(
    provider: dict[str, str], credentials: dict[str, Any], refused: str | None
) -> None:
    if refused is None:
        load_settings(provider=provider, **credentials)
        return
    with pytest.raises(ConfigError, match=f"demo credentials .* set {refused}"):
        load_settings(provider=provider, **credentials)
