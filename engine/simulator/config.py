"""Live, JSON-patchable configuration of the provider simulator (rates, faults, callbacks, templates).

Every section is a plain dataclass so tests can build one in Python, the admin endpoint can patch it with
JSON while the server runs, and a typo in a key is an error instead of a silently ignored knob.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Final, Literal, get_args, get_origin, get_type_hints

from engine.errors import ConfigError
from engine.simulator import contract
from engine.simulator.templates import ID_KEYS, default_ports, default_templates

Channel = Literal["capability", "smart", "sms", "basic", "other"]
CHANNELS: Final[tuple[Channel, ...]] = ("capability", "smart", "sms", "basic", "other")
RATE_CHANNELS: Final[tuple[Channel, ...]] = ("capability", "smart", "sms", "basic")
LEDGER_CHANNELS: Final[tuple[Channel, ...]] = ("smart", "sms", "basic")
SECRET_FIELDS: Final = frozenset({"sk", "sms_app_secret"})
# The credentials the simulator accepts when the environment names none. They equal the engine's default
# settings (tests/simulator/test_contract.py checks it), so an unconfigured engine and simulator pair up;
# the simulator keeps its own copy to depend on nothing of the engine but the signer and the error tree.
DEMO_AK: Final = "KDDEMOAK0000000000"
DEMO_SK: Final = "kd-demo-secret-key-for-the-built-in-simulator"
DEMO_PROJECT_ID: Final = "0123456789abcdef0123456789abcdef"
DEMO_SMS_APP_KEY: Final = "KDDEMOAPPKEY00000000"
DEMO_SMS_APP_SECRET: Final = "kd-demo-app-secret-for-the-built-in-simulator"
_TPL_ID = re.compile(rf"\d{{{contract.TPL_ID_DIGITS}}}")


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def _share(where: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"simulator config {where} must be between 0 and 1, got {value}")


def _span(where: str, value: tuple[float, float]) -> None:
    low, high = value
    if low < 0 or high < low:
        raise ConfigError(
            f"simulator config {where} must be [min, max] with 0 <= min <= max, got {list(value)}"
        )


@dataclass
class RateConfig:
    """Numbers per second each channel admits (None or 0 = unlimited), charged by number count."""

    capability: float | None = None
    smart: float | None = float(contract.SMART_RATE_PER_SECOND)
    sms: float | None = None
    basic: float | None = None
    burst_seconds: float = 1.0  # how much rate an idle channel may spend at once
    throttle_code: str = contract.KM_FLOW_CONTROL  # or contract.APIGW_THROTTLED

    def validate(self, where: str) -> None:
        for name in RATE_CHANNELS:
            rate = getattr(self, name)
            if rate is not None and rate < 0:
                raise ConfigError(f"simulator config {where}{name} must be >= 0 or null, got {rate}")
        if self.burst_seconds <= 0:
            raise ConfigError(f"simulator config {where}burst_seconds must be > 0")
        if self.throttle_code not in (contract.KM_FLOW_CONTROL, contract.APIGW_THROTTLED):
            raise ConfigError(
                f"simulator config {where}throttle_code must be {contract.KM_FLOW_CONTROL}"
                f" or {contract.APIGW_THROTTLED}"
            )

    def rate(self, channel: Channel) -> float | None:
        """The live limit of one channel; None when unlimited."""
        value: float | None = getattr(self, channel, None)
        return value or None


@dataclass
class FaultConfig:
    """Latency and failure shares, applied per call; the shares partition one random draw (sum <= 1)."""

    latency_ms: tuple[float, float] = (0.0, 0.0)  # uniform [min, max]; equal values = fixed latency
    error_share: float = 0.0  # answer 500 KM.00000500, request not applied
    timeout_share: float = 0.0  # answer only after timeout_sleep_s
    timeout_sleep_s: float = 30.0
    timeout_applies: bool = True  # a timed-out request is applied before the sleep (else 504, not applied)
    drop_share: float = 0.0  # close the connection before processing, request not applied
    drop_after_accept_share: float = 0.0  # apply the request, then close the connection without an answer
    outage: bool = False  # every call fails (see outage_mode)
    outage_mode: Literal["503", "drop"] = "503"

    def validate(self, where: str) -> None:
        shares = ("error_share", "timeout_share", "drop_share", "drop_after_accept_share")
        for name in shares:
            _share(where + name, getattr(self, name))
        if sum(getattr(self, name) for name in shares) > 1.0 + 1e-9:
            raise ConfigError(f"simulator config {where}*_share values must add up to at most 1")
        _span(where + "latency_ms", self.latency_ms)
        if self.timeout_sleep_s < 0:
            raise ConfigError(f"simulator config {where}timeout_sleep_s must be >= 0")
        if self.outage_mode not in ("503", "drop"):
            raise ConfigError(f"simulator config {where}outage_mode must be '503' or 'drop'")


@dataclass
class CallbackConfig:
    """Where and how status reports are posted; URLs registered through the API take precedence."""

    smart_url: str | None = None  # like a registered url_type 0 (one receipt per POST)
    smart_batch_url: str | None = None  # like a registered url_type 2 (arrays of receipts)
    basic_url: str | None = None  # basic edition send status (url_type 0)
    basic_uplink_url: str | None = None  # basic edition uplink (url_type 1)
    sms_url: str | None = None  # SMS status reports when the request names no statusCallback
    sms_uplink_url: str | None = None  # uplink replies to SMS and smart messages (the SMS app's up_link_addr)
    delay_ms: tuple[float, float] = (50.0, 200.0)  # from accept to delivery report, uniform per task
    outcomes: dict[str, float] = field(
        default_factory=lambda: {"DELIVRD": 0.9, "UNDELIV": 0.07, "EXPIRED": 0.03}
    )
    uplink_share: float = 0.0  # share of delivered numbers that reply
    uplink_text: str = "TD"
    batch_size: int = 50  # receipts per POST for batch formats
    concurrency: int = 16  # callback POSTs in flight
    timeout_s: float = 5.0
    retries: int = 3  # a failed POST is posted again, as the platform does (a smart report: "retry": true)
    retry_delay_s: float = 1.0  # before the first retry; doubled before each next
    allow_remote: bool = False  # post only to loopback hosts unless set

    def validate(self, where: str) -> None:
        _span(where + "delay_ms", self.delay_ms)
        _share(where + "uplink_share", self.uplink_share)
        weights = self.outcomes
        if (
            not isinstance(weights, dict)
            or not weights
            or any(
                not isinstance(k, str) or not isinstance(v, int | float) or v < 0 for k, v in weights.items()
            )
        ):
            raise ConfigError(f"simulator config {where}outcomes must map status codes to weights >= 0")
        if sum(weights.values()) <= 0:
            raise ConfigError(f"simulator config {where}outcomes must have a positive total weight")
        if self.batch_size < 1 or self.concurrency < 1 or self.timeout_s <= 0 or self.retries < 0:
            raise ConfigError(
                f"simulator config {where}batch_size, concurrency, timeout_s must be > 0 and retries >= 0"
            )


@dataclass
class SimConfig:
    """Everything the simulator can be told; patch it live (:meth:`update`, ``POST /_simulator/config``)."""

    ak: str = field(default_factory=lambda: _env("KOODISPATCH_AK", DEMO_AK))
    sk: str = field(default_factory=lambda: _env("KOODISPATCH_SK", DEMO_SK))
    project_id: str = field(default_factory=lambda: _env("KOODISPATCH_PROJECT_ID", DEMO_PROJECT_ID))
    sms_app_key: str = field(default_factory=lambda: _env("KOODISPATCH_SMS_APP_KEY", DEMO_SMS_APP_KEY))
    sms_app_secret: str = field(
        default_factory=lambda: _env("KOODISPATCH_SMS_APP_SECRET", DEMO_SMS_APP_SECRET)
    )
    domain_id: str = "koodispatch-sim-domain"  # echoed in smart-message receipts
    seed: int | None = None  # seeds every random decision (faults, outcomes, ids) for repeatable runs
    capable_share: float = 0.7  # share of valid mobiles that support smart messages
    strict_templates: bool = True  # False: any 9-digit tpl_id is accepted on send
    templates: dict[str, list[dict[str, Any]]] = field(default_factory=default_templates)
    ports: list[dict[str, Any]] = field(default_factory=default_ports)  # channel numbers (aim-sa ports)
    rates: RateConfig = field(default_factory=RateConfig)
    faults: FaultConfig = field(default_factory=FaultConfig)
    # channel -> FaultConfig fields that differ from ``faults`` for that channel
    channel_faults: dict[str, dict[str, Any]] = field(default_factory=dict)
    callbacks: CallbackConfig = field(default_factory=CallbackConfig)
    _effective: dict[str, FaultConfig] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.validate()

    @classmethod
    def from_dict(cls, changes: dict[str, Any]) -> SimConfig:
        """Defaults patched with ``changes`` (same rules as :meth:`update`)."""
        config = cls()
        config.update(changes)
        return config

    def update(self, changes: dict[str, Any]) -> None:
        """Merge ``changes`` into this config, all or nothing.

        Nested sections merge key by key; ``channel_faults.<channel>`` merges too (null removes the override).
        Raises ConfigError naming the first unknown key or bad value; the config is then unchanged.
        """
        if not isinstance(changes, dict):
            raise ConfigError("simulator config changes must be a JSON object")
        draft = copy.deepcopy(self)
        overrides = changes.get("channel_faults")
        rest = {k: v for k, v in changes.items() if k != "channel_faults"}
        _apply(draft, rest, "")
        if overrides is not None:
            draft._merge_channel_faults(overrides)
        draft.validate()
        for item in fields(self):
            setattr(self, item.name, getattr(draft, item.name))

    def validate(self) -> None:
        """Check ranges and cross-field rules; rebuild the per-channel fault view."""
        _share("capable_share", self.capable_share)
        self.rates.validate("rates.")
        self.faults.validate("faults.")
        self.callbacks.validate("callbacks.")
        _validate_templates(self.templates)
        _validate_ports(self.ports)
        self._effective = {}
        for channel in CHANNELS:
            effective = copy.copy(self.faults)
            _apply(effective, self.channel_faults.get(channel, {}), f"channel_faults.{channel}.")
            effective.validate(f"channel_faults.{channel}.")
            self._effective[channel] = effective

    def fault_for(self, channel: Channel) -> FaultConfig:
        """The global faults with this channel's overrides on top."""
        return self._effective[channel]

    def to_dict(self, secrets: bool = False) -> dict[str, Any]:
        """JSON-ready view; secrets are masked unless asked for."""
        out: dict[str, Any] = _dump(self)
        if not secrets:
            out.update({name: "***" for name in SECRET_FIELDS})
        return out

    def _merge_channel_faults(self, overrides: Any) -> None:
        if not isinstance(overrides, dict):
            raise ConfigError("simulator config channel_faults must be an object of channel -> overrides")
        for channel, patch in overrides.items():
            if channel not in CHANNELS:
                raise ConfigError(
                    f"unknown channel {channel!r} in channel_faults; known: {', '.join(CHANNELS)}"
                )
            if patch is None:
                self.channel_faults.pop(channel, None)
                continue
            if not isinstance(patch, dict):
                raise ConfigError(f"simulator config channel_faults.{channel} must be an object or null")
            self.channel_faults[channel] = {**self.channel_faults.get(channel, {}), **patch}


def _validate_templates(templates: Any) -> None:
    if not isinstance(templates, dict) or set(templates) - set(ID_KEYS):
        raise ConfigError("simulator config templates must be an object with keys 'smart', 'basic', 'sms'")
    for kind, items in templates.items():
        key = ID_KEYS[kind]
        if not isinstance(items, list) or not all(
            isinstance(t, dict) and isinstance(t.get(key), str) and _template_id(kind, t[key]) for t in items
        ):
            shape = (
                f"a template_id of 1-{contract.SMS_TEMPLATE_ID_MAX} characters"
                if kind == "sms"
                else f"a {contract.TPL_ID_DIGITS}-digit tpl_id"
            )
            raise ConfigError(f"simulator config templates.{kind} must be a list of objects with {shape}")


def _template_id(kind: str, value: str) -> bool:
    if kind == "sms":
        return 0 < len(value) <= contract.SMS_TEMPLATE_ID_MAX
    return _TPL_ID.fullmatch(value) is not None


def _validate_ports(ports: Any) -> None:
    if not isinstance(ports, list) or not all(
        isinstance(p, dict) and isinstance(p.get("port"), str) and p["port"] for p in ports
    ):
        raise ConfigError("simulator config ports must be a list of objects with a non-empty port")


def _apply(target: Any, changes: dict[str, Any], where: str) -> None:
    """Set known fields of a config dataclass from JSON values, coercing by the field's type hint."""
    hints = get_type_hints(type(target))
    known = [f.name for f in fields(target) if f.init]
    for key, value in changes.items():
        if key not in known:
            raise ConfigError(f"unknown simulator config key {where}{key!r}; known: {', '.join(known)}")
        current = getattr(target, key)
        if is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"simulator config {where}{key} must be an object")
            _apply(current, value, f"{where}{key}.")
        else:
            setattr(target, key, _coerce(f"{where}{key}", hints[key], value))


def _coerce(where: str, hint: Any, value: Any) -> Any:
    origin, args = get_origin(hint), get_args(hint)
    if args and type(None) in args and origin is not Literal:
        if value is None:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(where, inner[0], value)
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"simulator config {where} must be one of {list(args)}, got {value!r}")
        return value
    if origin is tuple:
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = [value, value]
        if not isinstance(value, list | tuple) or len(value) != len(args):
            raise ConfigError(f"simulator config {where} must be a list of {len(args)} numbers")
        return tuple(_coerce(where, a, v) for a, v in zip(args, value, strict=True))
    expected = origin or hint
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, expected) or (expected in (int, float) and isinstance(value, bool)):
        raise ConfigError(
            f"simulator config {where} must be {getattr(expected, '__name__', expected)}, got {value!r}"
        )
    return copy.deepcopy(value)


def _dump(obj: Any) -> Any:
    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _dump(getattr(obj, f.name)) for f in fields(obj) if f.init}
    if isinstance(obj, tuple | list):
        return [_dump(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _dump(v) for k, v in obj.items()}
    return obj
