"""The campaign spec: template, sender, fallback, recipients and schedule, from TOML or the Python API."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from typing import Annotated, Any, Final, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.functional_validators import ModelWrapValidatorHandler

from engine.errors import ConfigError
from engine.ingest.budget_spec import BudgetSpec
from engine.phones import mask
from engine.provider import limits
from engine.runtime.settings import IngestSettings

_INGEST: Final = IngestSettings()
_SPEC: Final = "campaign spec"  # how an error names a spec that came from a dict, not a file
_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")  # also keeps the Redis hash tag {cid} well-formed
MAX_CELL_CHARS: Final = 1000  # a longer cell is a broken file (e.g. an unclosed quote), never a parameter
_LATE_MAX_MINUTES: Final = 72 * 60  # status reports arrive within 72 h; later, none is coming
_SMS_PARAM_RULE: Final = (
    f"the provider refuses SMS template parameters that contain any of "
    f"{' '.join(sorted(limits.SMS_PARAM_FORBIDDEN))} or are not 1-{limits.SMS_PARAM_MAX_LEN} characters long"
)
_BASIC_PARAM_RULE: Final = (
    f"the provider allows at most {limits.CONTENT_DETAIL_MAX} characters per basic-edition parameter"
)


@dataclass(frozen=True)
class ParamRule:
    """What the provider accepts in one parameter column, checked on every row that will be sent."""

    column: str
    used_by: str  # the spec field that maps the column, for the error message
    min_len: int = 0
    max_len: int = MAX_CELL_CHARS
    forbidden: frozenset[str] = frozenset()
    why: str = ""  # the provider's rule in words, so an operator knows it is not ours to relax


def _template_id(value: str) -> str:
    if len(value) != limits.TPL_ID_DIGITS or not value.isascii() or not value.isdigit():
        raise ValueError(f"must be {limits.TPL_ID_DIGITS} digits")
    return value


def _mobile(value: str) -> str:
    # imported here: the one-value rules are polars' (as for a file), and a spec is also read by commands
    # that must start fast (``koodispatch pause``) and never meet a trial number
    from engine.ingest.numbers import normalise

    number = normalise(value)
    if number is None:
        raise ValueError(f"{mask(value)!r} is not a mainland mobile number")
    return number


def _campaign_id(value: str) -> str:
    if not _ID.fullmatch(value):
        raise ValueError("only letters, digits, _ and -, at most 64")
    return value


def _signature(value: str) -> str:
    if set(value) & set("【】[]"):
        raise ValueError("without brackets: the carrier adds 【】 itself")
    return value


TemplateId = Annotated[str, AfterValidator(_template_id)]
Column = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Mobile = Annotated[str, AfterValidator(_mobile)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class SmartSpec(_Spec):
    """The smart message (智能信息) and the SMS that carries its short link."""

    template_id: TemplateId = Field(description="smart-message template id (9 digits)")
    sms_param_count: int | None = Field(
        None,
        ge=0,
        le=limits.SMS_PARAMS_MAX,
        description="SMS template variables besides the short link; when set, sms_params must match",
    )
    sms_params: tuple[Column, ...] = Field(
        (),
        max_length=limits.SMS_PARAMS_MAX,
        validate_default=True,
        description="recipient columns filling the SMS template's variables, in order, short link excluded",
    )
    dync_params: dict[Column, Column] = Field(
        {}, description="smart-template variable -> recipient column (personalised card content)"
    )
    expiration_days: int = Field(
        3,
        ge=limits.INDIVIDUAL_EXPIRATION_DAYS[0],
        le=limits.INDIVIDUAL_EXPIRATION_DAYS[1],
        description="days the personalised short link stays resolvable",
    )

    @field_validator("sms_params")
    @classmethod
    def _matches_template(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        needed = info.data.get("sms_param_count")
        if needed is not None and needed != len(value):
            raise ValueError(f"template needs {needed} params, spec maps {len(value)}")
        return value


class SmsChannelSpec(_Spec):
    """The SMS application, signature and template, all four matching each other in the console."""

    channel_number: str = Field(
        min_length=1, max_length=limits.CHANNEL_NUM_MAX, description="channel number (通道号) of the SMS app"
    )
    sms_template_id: str = Field(
        min_length=1,
        max_length=limits.SMS_TEMPLATE_ID_MAX,
        description="SMS template with the short-link variable",
    )
    signature: Annotated[str, AfterValidator(_signature)] = Field(
        min_length=limits.SIGNATURE_LEN[0],
        max_length=limits.SIGNATURE_LEN[1],
        description="SMS signature (短消息签名), without brackets",
    )
    app_name: str = Field(min_length=1, description="SMS application name (短消息应用)")
    require_service_number: bool = Field(
        False, description="preflight: channel_number must be bound to a service number (服务号)"
    )


class FallbackSpec(_Spec):
    """What numbers that cannot show smart messages get (the console's 不可解析智能信息号码 choice)."""

    policy: Literal["skip", "sms", "basic"] = Field(
        "skip", description="skip: nothing (不发送); sms: plain SMS (普通短信); basic: basic edition (基础版)"
    )
    sms_template_id: str | None = Field(
        None,
        min_length=1,
        max_length=limits.SMS_TEMPLATE_ID_MAX,
        description="plain-SMS template; unset = sms_channel.sms_template_id",
    )
    sms_params: tuple[Column, ...] = Field(
        (),
        max_length=limits.TEMPLATE_PARAMS_MAX,
        description="recipient columns for the SMS template, in order",
    )
    via: Literal["koomessage", "smsapi"] | None = Field(
        None, description="API carrying the SMS; unset = settings.provider.sms_api"
    )
    basic_template_id: TemplateId | None = Field(
        None,
        validate_default=True,
        description="basic-edition (video SMS) template id; required for policy basic",
    )
    basic_params: tuple[Column, ...] = Field(
        (),
        max_length=limits.BASIC_MAX_DYNC_PARAMS,
        description="recipient columns filling #p_1#, #p_2#, ... of the basic-edition template",
    )
    basic_expiration_hours: int = Field(
        24,
        ge=limits.VMS_EXPIRATION_HOURS[0],
        le=limits.VMS_EXPIRATION_HOURS[1],
        description="hours the basic-edition message may wait for delivery",
    )
    after_minutes: float | None = Field(
        None,
        gt=0,
        le=_LATE_MAX_MINUTES,
        description="also send the fallback to smart-message numbers not confirmed delivered this many "
        "minutes after their batch finished (failed or no receipt); once per number",
    )

    @field_validator("basic_template_id")
    @classmethod
    def _required_for_basic(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("policy") == "basic":
            raise ValueError("required when policy is 'basic'")
        return value

    @field_validator("after_minutes")
    @classmethod
    def _needs_a_channel(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and info.data.get("policy") not in ("sms", "basic"):
            raise ValueError("needs policy 'sms' or 'basic': the late fallback sends on that channel")
        return value


class RecipientsSpec(_Spec):
    """Where the numbers come from; relative paths are relative to the spec file's directory."""

    file: Path | None = Field(None, description="recipient file (.csv, .txt, .xlsx); unset = given at submit")
    mobile_column: Column = Field(_INGEST.mobile_column, description="the phone-number column")
    sheet: int | str | None = Field(
        "all", description='xlsx sheet: "all" (every non-empty sheet), a name, or a number from 1'
    )
    suppression_file: Path | None = Field(None, description="opted-out numbers, one per line or a CSV")

    @field_validator("sheet", mode="plain")
    @classmethod
    def _sheet(cls, value: Any) -> int | str | None:
        if value is None or (isinstance(value, str) and value) or (type(value) is int and value >= 1):
            return value
        raise ValueError('a sheet name, a sheet number from 1, or "all"')

    @field_validator("file", "suppression_file")
    @classmethod
    def _relative_to_spec(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        base = (info.context or {}).get("base_dir")
        return Path(base) / value if value is not None and base is not None else value


class SendWindow(_Spec):
    """Local hours in which sends may start, e.g. "08:00-21:00"; may wrap midnight ("22:00-06:00")."""

    start: time
    end: time

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        start, _, end = value.partition("-")
        try:
            return {"start": time.fromisoformat(start.strip()), "end": time.fromisoformat(end.strip())}
        except ValueError:
            raise ValueError(f'expected "HH:MM-HH:MM", got {value!r}') from None

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start == self.end:
            raise ValueError("start and end are equal; leave the window out to send at any hour")
        return self

    def contains(self, at: time) -> bool:
        """Whether local time ``at`` is inside the window."""
        if self.start < self.end:
            return self.start <= at < self.end
        return at >= self.start or at < self.end


class ScheduleSpec(_Spec):
    """When to send: start time, daily window, time zone, and an optional trial send (试发测试)."""

    start_at: AwareDatetime | None = Field(None, description="earliest send time, ISO 8601 with offset")
    window: SendWindow | None = Field(None, description='daily send window "HH:MM-HH:MM", local time')
    timezone: str = Field("Asia/Shanghai", description="IANA zone of the window")
    trial_numbers: tuple[Mobile, ...] = Field(
        (), description="numbers for a trial send; the campaign pauses after it until confirmed"
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    def allows(self, at: datetime) -> bool:
        """Whether a send may happen at the aware datetime ``at`` (start time and window)."""
        if self.start_at is not None and at < self.start_at:
            return False
        return self.window is None or self.window.contains(at.astimezone(ZoneInfo(self.timezone)).time())


class CampaignSpec(_Spec):
    """A whole campaign. Invalid input raises ConfigError naming the file and field, e.g.
    ``spring.toml: smart.template_id: must be 9 digits``; pass ``context={"source": ...}`` to name a source.
    """

    id: Annotated[str, AfterValidator(_campaign_id)] | None = Field(
        None, description="campaign id (letters, digits, _ and -; at most 64); unset = derived by the planner"
    )
    name: str = Field(
        min_length=1, max_length=limits.TASK_NAME_MAX_SMS, description="task name shown in the console"
    )
    smart: SmartSpec
    sms_channel: SmsChannelSpec
    fallback: FallbackSpec = FallbackSpec()
    recipients: RecipientsSpec = RecipientsSpec()
    schedule: ScheduleSpec = ScheduleSpec()
    budget: BudgetSpec = BudgetSpec()

    @model_validator(mode="wrap")
    @classmethod
    def _as_config_error(
        cls, data: Any, handler: ModelWrapValidatorHandler[Self], info: ValidationInfo
    ) -> Self:
        try:
            return handler(data)
        except ValidationError as exc:
            raise _config_error(exc, (info.context or {}).get("source", _SPEC)) from None

    @property
    def fallback_sms_template_id(self) -> str:
        """The plain-SMS template of the sms fallback."""
        return self.fallback.sms_template_id or self.sms_channel.sms_template_id

    def column_uses(self) -> list[tuple[str, str]]:
        """(field path, column) for every column a channel of this campaign reads, in spec order."""
        uses = [(f"smart.sms_params[{i}]", c) for i, c in enumerate(self.smart.sms_params)]
        uses += [(f"smart.dync_params.{var}", c) for var, c in self.smart.dync_params.items()]
        if self.fallback.policy == "sms":
            uses += [(f"fallback.sms_params[{i}]", c) for i, c in enumerate(self.fallback.sms_params)]
        if self.fallback.policy == "basic":
            uses += [(f"fallback.basic_params[{i}]", c) for i, c in enumerate(self.fallback.basic_params)]
        return uses

    def param_columns(self) -> list[str]:
        """Every recipient column any channel needs, each once, in spec order."""
        return list(dict.fromkeys(column for _, column in self.column_uses()))

    def param_rules(self) -> list[ParamRule]:
        """Per-value limits of the provider contract, checked at ingest rather than failing a send."""
        rules = [
            ParamRule(
                c,
                "smart.sms_params",
                1,
                limits.SMS_PARAM_MAX_LEN,
                limits.SMS_PARAM_FORBIDDEN,
                _SMS_PARAM_RULE,
            )
            for c in dict.fromkeys(self.smart.sms_params)
        ]
        if self.fallback.policy == "basic":
            rules += [
                ParamRule(
                    c, "fallback.basic_params", max_len=limits.CONTENT_DETAIL_MAX, why=_BASIC_PARAM_RULE
                )
                for c in dict.fromkeys(self.fallback.basic_params)
            ]
        return rules

    def check_against(self, columns: Collection[str]) -> None:
        """Raise ConfigError naming the first field whose column is not in ``columns`` (a file's header)."""
        for field, column in [
            ("recipients.mobile_column", self.recipients.mobile_column),
            *self.column_uses(),
        ]:
            if column not in columns:
                found = ", ".join(repr(c) for c in columns)
                raise ConfigError(
                    f"{field}: column {column!r} is not in the recipient file (columns: {found})"
                )


def load_spec(path: Path | str) -> CampaignSpec:
    """Read a campaign TOML file; paths inside it are relative to its directory. Raises ConfigError."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the campaign spec: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a valid TOML file: {exc}") from None
    return CampaignSpec.model_validate(data, context={"source": str(path), "base_dir": path.parent})


def _config_error(exc: ValidationError, source: str) -> ConfigError:
    """One line naming the source and every bad field: ``x.toml: smart.template_id: must be 9 digits``."""
    problems = [f"{_field(error['loc'])}: {_message(error)}" for error in exc.errors()]
    return ConfigError(f"{source}: {'; '.join(problems)}")


def _field(loc: Sequence[int | str]) -> str:
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    return path.lstrip(".") or "(spec)"


def _message(error: Mapping[str, Any]) -> str:
    kinds = {"missing": "required", "extra_forbidden": "unknown field"}
    return kinds.get(error["type"]) or str(error["msg"]).removeprefix("Value error, ")
