"""Validated engine settings: model defaults < config/default.toml (or KOODISPATCH_CONFIG) < environment.

Secrets (AK/SK, SMS app key/secret) come only from the environment or an env file outside the repo
(``KOODISPATCH_ENV_FILE``); the demo defaults are valid only against the built-in simulator.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AliasChoices, BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from engine.errors import ConfigError
from engine.runtime.contact_limits import ContactLimit
from engine.runtime.net import is_loopback_url
from engine.runtime.ranges import BURST, RATE, Range
from engine.runtime.redis_address import sentinel_url
from engine.types import is_sentinel_url

PROJECT_DIR = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = PROJECT_DIR / "config" / "default.toml"
SECRETS = frozenset(
    {
        "ak",
        "sk",
        "sms_app_key",
        "sms_app_secret",
        "receipts_token",
        "redis_password",
        "redis_sentinel_password",
    }
)

# Demo credentials: accepted by `koodispatch simulate` out of the box, by nothing real.
DEMO_AK = "KDDEMOAK0000000000"
DEMO_SK = "kd-demo-secret-key-for-the-built-in-simulator"
DEMO_PROJECT_ID = "0123456789abcdef0123456789abcdef"
DEMO_SMS_APP_KEY = "KDDEMOAPPKEY00000000"
DEMO_SMS_APP_SECRET = "kd-demo-app-secret-for-the-built-in-simulator"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderSettings(_Section):
    koomessage_url: str = Field("http://127.0.0.1:8640", description="KooMessage base URL")
    smsapi_url: str = Field("http://127.0.0.1:8640", description="Message&SMS send API base URL")
    sms_api: Literal["koomessage", "smsapi"] = Field(
        "koomessage",
        description="which API carries plain-SMS fallback: KooMessage /v1/aim/sms or batchSendSms",
    )
    connect_timeout: float = Field(5.0, gt=0, description="seconds to open a connection")
    read_timeout: float = Field(30.0, gt=0, description="seconds to wait for an answer once sent")
    max_connections: int = Field(100, ge=1, description="connection pool size per process")

    answer_grace: float = Field(
        10.0,
        ge=0,
        description="seconds past the read timeout in which an unanswered call may still land",
    )

    @property
    def call_lifetime(self) -> float:
        """Seconds after which a call made now can no longer be outstanding (journal deadline, slot lease)."""
        return self.connect_timeout + self.read_timeout + self.answer_grace


def _within(allowed: Range) -> AfterValidator:
    """A pydantic check with the message every entry point gives (``engine/runtime/ranges.py``)."""

    def check(value: float) -> float:
        problem = allowed.problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    return AfterValidator(check)


PerSecond = Annotated[float, _within(RATE)]
BurstSeconds = Annotated[float, _within(BURST)]


class RateSettings(_Section):
    capability: PerSecond = Field(1000.0, description=f"capability-check budget, all workers: {RATE}")
    smart: PerSecond = Field(1000.0, description=f"smart-message budget, all workers: {RATE}")
    sms: PerSecond = Field(1000.0, description=f"plain-SMS budget, all workers: {RATE}")
    basic: PerSecond = Field(5000.0, description=f"basic-edition budget, all workers: {RATE}")
    burst_seconds: BurstSeconds = Field(0.2, description=f"rate that may be spent at once: {BURST} of it")
    max_in_flight: int = Field(64, ge=1, description="provider calls in flight per channel, all workers")
    min_share: float = Field(
        0.05,
        ge=0,
        le=0.5,
        description="share of each channel's rate kept for every lower priority class while a higher one "
        "sends",
    )
    throttle_factor: float = Field(0.5, gt=0, lt=1, description="rate multiplier applied on each 429")
    recover_seconds: float = Field(10.0, gt=0, description="time to climb back to the full rate after a 429")


class DispatchSettings(_Section):
    batch_size: int = Field(5000, ge=1, le=5000, description="numbers per batch (one job)")
    urgent_batch_size: int = Field(
        500,
        ge=1,
        le=5000,
        description="numbers per batch of an urgent campaign: a batch checks its numbers' capability before "
        "it sends, so smaller batches get an urgent campaign's first messages out within a second",
    )
    retry_base_delay: float = Field(
        0.5, gt=0, description="first retry delay in seconds (exponential, jittered)"
    )
    retry_max_delay: float = Field(30.0, gt=0, description="cap on one retry delay in seconds")
    outage_pause_after: float = Field(
        300.0, gt=0, description="seconds of continuous provider failure after which a campaign pauses itself"
    )
    job_timeout: float = Field(
        3600.0,
        gt=0,
        description="seconds one run of a batch job may take before it is stopped and queued again",
    )
    worker_concurrency: int = Field(
        8, ge=1, description="batch jobs of one campaign that one worker process runs at once"
    )
    worker_slots: int = Field(
        64, ge=1, description="batch jobs of all campaigns that one worker process runs at once"
    )
    campaign_window: int = Field(
        32,
        ge=1,
        description="batch jobs of one campaign queued or running at once on all workers (more lets more "
        "workers share one campaign; the rest of its batches wait in its backlog)",
    )
    lease_seconds: float = Field(
        5.0,
        gt=0,
        description="batch lease TTL: a dead worker's batch runs again about a second after this (its job's "
        "visibility is the lease plus one second)",
    )
    sms_receipt_timeout_seconds: float = Field(
        600.0,
        gt=0,
        description="with the receipts service configured: how long a plain-SMS call whose answer was lost "
        "waits for a status report of any of its numbers (after the call can no longer be outstanding) "
        "before it is sent again; carriers report within seconds to minutes",
    )


class ResolverSettings(_Section):
    cache_ttl_hours: float = Field(24.0, ge=0, description="how long a capability verdict is reused")


class IngestSettings(_Section):
    max_xlsx_mb: float = Field(40.0, gt=0, description="largest xlsx accepted, as the console's 40 MB")
    mobile_column: str = Field("mobile", description="default name of the phone-number column")
    spill_dir: str = Field(
        "",
        description="where a large recipient file's rows wait on disk while it is read (~40 bytes a row, "
        "deleted after); empty = the system temp dir",
    )


class PriceSettings(_Section):
    """Contract prices for `koodispatch plan`. Prices differ per account and contract, so none is assumed:
    unset, plan says "cost: set [prices] ..." instead of a cost of 0.00 that reads as free."""

    smart: float | None = Field(
        None, ge=0, description="per smart message (the parse fee; its carrier SMS is priced per segment)"
    )
    sms_segment: float | None = Field(
        None, ge=0, description="per SMS segment (70 characters, 67 per part when longer)"
    )
    basic: float | None = Field(None, ge=0, description="per basic-edition (video SMS) message")
    currency: str = Field("CNY", min_length=1, description="currency the prices are in, for display")


class ReceiptSettings(_Section):
    public_url: str = Field(
        "",
        description="base URL the provider reaches `koodispatch receipts` at (https://host:port); "
        "empty = no statusCallback on Message&SMS sends",
    )
    opt_out_words: list[str] = Field(
        ["R", "T", "TD", "退订"],
        description="uplink replies (trimmed, case-insensitive) that add the sender to kd:suppression",
    )
    sms_push_signature: bool = Field(
        False, description="require SDK-HMAC-SHA256 (app key/secret) on SMS status reports and uplinks"
    )
    opt_out_window_days: float = Field(
        30.0,
        ge=0,
        le=366,
        description="an opt-out reply is taken only from a number a campaign was submitted to within this "
        "many days (or, on the basic edition, one its task sent to); others are counted rejected:opt_out",
    )
    header_timeout: float = Field(
        10.0,
        gt=0,
        le=300,
        description="seconds a connection may take to send a request's headers (and stay idle between "
        "requests) before it is closed: a half-sent request does not hold a socket",
    )
    body_timeout: float = Field(
        10.0, gt=0, le=300, description="seconds to read a request's body once its headers are in (else 408)"
    )
    max_connections: int = Field(
        1024,
        ge=8,
        description="connections held at once (also at most the open-file limit less 32); at the cap the "
        "oldest connection with no request in progress is closed for a new one",
    )
    pending_per_task: int = Field(
        10_000,
        ge=0,
        description="receipts kept in Redis for one task id not mapped yet (recorded once it is, or gone "
        "with the task map after 4 days); more are dropped, counted pending_dropped",
    )
    log_interval: float = Field(
        10.0, gt=0, description="seconds between the service's one summary line of what it counted"
    )


class RetentionSettings(_Section):
    """How long a campaign's per-number data stays once it ended (``engine/state/retention.py``)."""

    days: float = Field(
        30.0,
        ge=0,
        le=3650,
        description="days per-number data (batches, journal, delivery outcomes, failed numbers) is kept "
        "after a campaign ended and its 4-day receipt window closed; the summary report stays",
    )


def _contact_limits(texts: list[str]) -> list[str]:
    for text in texts:
        ContactLimit.parse(text)
    return texts


ContactLimits = Annotated[list[str], AfterValidator(_contact_limits)]


class ContactSettings(_Section):
    """Contact-frequency caps across campaigns (``engine/budget/contacts.py``); none by default.

    A number over a limit of the channel it would get is not sent to (reason ``frequency_cap``). Campaigns
    of class ``urgent``, ``[budget] transactional`` ones and trial sends are exempt and not counted.
    """

    smart: ContactLimits = Field([], description="limits for smart messages, e.g. ['1/24h', '3/7d']")
    sms: ContactLimits = Field([], description="limits for plain SMS (fallback), e.g. ['1/24h']")
    basic: ContactLimits = Field([], description="limits for basic-edition messages")
    buckets: int = Field(
        262144,
        ge=1,
        le=1 << 24,
        description="Redis hashes a day's contacts are spread over; Redis packs a hash of ≤128 numbers, so "
        "buckets ≥ numbers contacted a day / 120. The default suits 10–30M a day at ≤16 bytes a number "
        "(fewer: more per number, less in all). A change starts with the next UTC day",
    )


class RedisOptions(_Section):
    """What a provider call waits for when Redis has replicas (``engine/store/coalesce.py``, README
    Guarantees): replication is asynchronous, so a failover can lose the last writes the primary
    acknowledged; a call's in_flight mark confirmed on a replica is not among them."""

    min_replicas_ack: int | None = Field(
        None,
        ge=0,
        description="replicas that must hold a provider call's in_flight mark (WAIT, in the admission's "
        "round trip) before the call is made, else it is not made yet; unset: 1 through Sentinel, 0 without "
        "(no wait). Set it to the number of replicas Sentinel may promote for the strict guarantee",
    )
    replica_ack_timeout: float = Field(
        0.5,
        gt=0,
        le=10,
        description="seconds an admission waits for the replicas; past it the call is not made and is "
        "admitted again (the connection asks the sentinels for the primary anew)",
    )


class _TomlWithoutSecrets(TomlConfigSettingsSource):
    """Config files get committed and shared: a secret found in one is refused, never used."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        super().__init__(settings_cls, toml_file=path)
        self.path = path

    def __call__(self) -> dict[str, Any]:
        data = super().__call__()
        found = SECRETS & data.keys()
        if found:
            raise ConfigError(
                f"{self.path}: {', '.join(sorted(found))} must come from the environment or "
                "KOODISPATCH_ENV_FILE, never from a config file"
            )
        return data


class Settings(BaseSettings):
    """Every knob of the engine. Unknown keys (in TOML or KOODISPATCH_* env) are rejected."""

    model_config = SettingsConfigDict(
        env_prefix="KOODISPATCH_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    redis_url: str | None = Field(
        None,
        validation_alias=AliasChoices("REDIS_URL", "KOODISPATCH_REDIS_URL"),
        description="Redis to use; unset = start a private redis-server",
    )
    redis_sentinels: str | None = Field(
        None,
        validation_alias=AliasChoices("REDIS_SENTINELS", "KOODISPATCH_REDIS_SENTINELS"),
        description="host:port,host:port,... of the Redis Sentinels that name the primary: instead of "
        "REDIS_URL (which may also be a redis+sentinel:// URL)",
    )
    redis_sentinel_master: str = Field(
        "mymaster",
        min_length=1,
        validation_alias=AliasChoices("REDIS_SENTINEL_MASTER", "KOODISPATCH_REDIS_SENTINEL_MASTER"),
        description="with REDIS_SENTINELS: the name the sentinels monitor the primary under",
    )
    redis_sentinel_password: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("REDIS_SENTINEL_PASSWORD", "KOODISPATCH_REDIS_SENTINEL_PASSWORD"),
        description="with REDIS_SENTINELS: the sentinels' password, if they require one",
    )
    redis_password: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("REDIS_PASSWORD", "KOODISPATCH_REDIS_PASSWORD"),
        description="with REDIS_SENTINELS: the Redis servers' password (with REDIS_URL it is in the URL)",
    )
    redis: RedisOptions = RedisOptions()
    ak: SecretStr = Field(SecretStr(DEMO_AK), description="KooMessage access key (env KOODISPATCH_AK)")
    sk: SecretStr = Field(SecretStr(DEMO_SK), description="KooMessage secret key (env KOODISPATCH_SK)")
    project_id: str = Field(DEMO_PROJECT_ID, description="KooMessage project id sent as X-Project-Id")
    sms_app_key: SecretStr = Field(SecretStr(DEMO_SMS_APP_KEY), description="Message&SMS app key")
    sms_app_secret: SecretStr = Field(SecretStr(DEMO_SMS_APP_SECRET), description="Message&SMS app secret")
    receipts_token: SecretStr | None = Field(
        None, description="shared secret in the receipt callback URLs (env KOODISPATCH_RECEIPTS_TOKEN)"
    )
    provider: ProviderSettings = ProviderSettings()
    rates: RateSettings = RateSettings()
    dispatch: DispatchSettings = DispatchSettings()
    resolver: ResolverSettings = ResolverSettings()
    ingest: IngestSettings = IngestSettings()
    receipts: ReceiptSettings = ReceiptSettings()
    prices: PriceSettings = PriceSettings()
    contacts: ContactSettings = ContactSettings()
    retention: RetentionSettings = RetentionSettings()

    @model_validator(mode="after")
    def _one_redis(self) -> Settings:
        """REDIS_SENTINELS must not name another Redis than REDIS_URL does (a worker process gets the
        address as REDIS_URL, beside the variables it was made from)."""
        if self.redis_sentinels and self.redis_url and self.redis_url != self.redis_address:
            raise ValueError("REDIS_URL and REDIS_SENTINELS name two Redis: set one")
        return self

    @property
    def redis_address(self) -> str | None:
        """The Redis to use as one URL: REDIS_URL, or the redis+sentinel:// URL made from REDIS_SENTINELS,
        REDIS_SENTINEL_MASTER and the passwords; None for a private redis-server."""
        if not self.redis_sentinels:
            return self.redis_url
        return sentinel_url(
            self.redis_sentinels,
            self.redis_sentinel_master,
            _secret(self.redis_password),
            _secret(self.redis_sentinel_password),
        )

    @property
    def replicas_to_ack(self) -> int:
        """Replicas each provider call's in_flight mark must reach first (``RedisOptions``)."""
        if self.redis.min_replicas_ack is not None:
            return self.redis.min_replicas_ack
        address = self.redis_address
        return 1 if address and is_sentinel_url(address) else 0

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """init > environment > secrets env file > TOML file > model defaults."""
        toml_path = Path(os.environ.get("KOODISPATCH_CONFIG", DEFAULT_CONFIG))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        env_file = os.environ.get("KOODISPATCH_ENV_FILE")
        if env_file:
            _check_env_file(env_file)
            sources.append(DotEnvSettingsSource(settings_cls, env_file=env_file))
        if toml_path.is_file():
            sources.append(_TomlWithoutSecrets(settings_cls, toml_path))
        return tuple(sources)


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def _check_env_file(env_file: str) -> None:
    """The secrets file must exist (else the demo credentials would be used in silence), lie outside the
    project (it would get committed) and not be writable by every user (anyone could then change the
    credentials a campaign sends with). Raises ConfigError naming the problem."""
    where = f"KOODISPATCH_ENV_FILE={env_file}"
    path = Path(env_file)
    if path.resolve().is_relative_to(PROJECT_DIR):
        raise ConfigError(f"{where}: keep the secrets file outside the project")
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"{where}: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        raise ConfigError(f"{where}: not a regular file")
    if mode & stat.S_IWOTH:
        raise ConfigError(f"{where}: every user may write to it, so anyone could change the credentials")


def _check_demo_credentials(settings: Settings) -> None:
    """The demo credentials are public: refuse to send them anywhere but this machine's loopback."""
    demo = {DEMO_AK, DEMO_SK, DEMO_SMS_APP_KEY, DEMO_SMS_APP_SECRET}
    sms = (settings.sms_app_key, settings.sms_app_secret)
    apis = (
        ("KOODISPATCH_AK/SK", settings.provider.koomessage_url, (settings.ak, settings.sk)),
        ("KOODISPATCH_SMS_APP_KEY/SECRET", settings.provider.smsapi_url, sms),
    )
    for names, url, credentials in apis:
        if any(c.get_secret_value() in demo for c in credentials) and not is_loopback_url(url):
            raise ConfigError(
                f"the demo credentials are only for the simulator on this machine, not {url}: set {names}"
            )


# KOODISPATCH_CONFIG, KOODISPATCH_ENV_FILE, and the admin token `koodispatch simulate` may be given
META_VARIABLES = frozenset({"config", "env_file", "simulator_token"})


def _check_environment() -> None:
    """pydantic-settings ignores unknown prefixed variables; a typo must be an error, not a no-op."""
    known = set(Settings.model_fields) | META_VARIABLES
    for name in os.environ:
        if name.startswith("KOODISPATCH_"):
            field = name.removeprefix("KOODISPATCH_").lower().split("__", 1)[0]
            if field not in known:
                raise ConfigError(f"{name}: unknown setting (known: {', '.join(sorted(known))})")


def load_settings(**overrides: object) -> Settings:
    """Build settings now (never at import time), with explicit overrides on top.

    Raises ConfigError for an unknown KOODISPATCH_* variable, an unusable KOODISPATCH_ENV_FILE, a secret in
    a config file or demo credentials with a provider URL off this machine; pydantic's ValidationError for
    bad values.
    """
    _check_environment()
    settings = Settings(**overrides)  # type: ignore[arg-type]
    _check_demo_credentials(settings)
    return settings
