"""The campaign spec: examples load, every error is a ConfigError naming file and field, helpers."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from engine.errors import ConfigError, InputError
from engine.ingest.recipients import for_campaign
from engine.ingest.spec import CampaignSpec, SendWindow, load_spec
from engine.runtime.settings import IngestSettings

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "config" / "campaigns").glob("*.toml"))
assert EXAMPLES, "no example campaign specs found"

MINIMAL: dict[str, Any] = {
    "name": "spring",
    "smart": {"template_id": "123456789", "sms_params": ["name"]},
    "sms_channel": {
        "channel_number": "10690000",
        "sms_template_id": "sms_tpl_1",
        "signature": "华为云",
        "app_name": "app",
    },
    "recipients": {"file": "r.csv"},
}

SPEC_TOML = """\
name = "spring"
[smart]
template_id = "123456789"
sms_params = ["name"]
[sms_channel]
channel_number = "10690000"
sms_template_id = "sms_tpl_1"
signature = "华为云"
app_name = "app"
[recipients]
file = "data/r.csv"
suppression_file = "optout.txt"
"""


def spec(change: Callable[[dict[str, Any]], object] = lambda d: None) -> CampaignSpec:
    data = copy.deepcopy(MINIMAL)
    change(data)
    return CampaignSpec.model_validate(data)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_load(path: Path) -> None:
    loaded = load_spec(path)
    assert loaded.recipients.file is not None and loaded.recipients.file.parent == path.parent
    assert loaded.param_columns()


def test_both_fallback_examples_exist() -> None:
    assert {load_spec(p).fallback.policy for p in EXAMPLES} >= {"sms", "basic"}


def test_defaults() -> None:
    s = spec()
    assert (s.id, s.fallback.policy, s.smart.expiration_days, s.fallback.basic_expiration_hours) == (
        None,
        "skip",
        3,
        24,
    )
    assert (s.recipients.mobile_column, s.recipients.sheet, s.schedule.timezone) == (
        "mobile",
        "all",
        "Asia/Shanghai",
    )
    assert s.fallback_sms_template_id == "sms_tpl_1"


ERRORS: list[tuple[Callable[[dict[str, Any]], object], str]] = [
    (lambda d: d["smart"].update(template_id="12345"), "smart.template_id: must be 9 digits"),
    (lambda d: d["smart"].update(template_id="12345678x"), "smart.template_id: must be 9 digits"),
    (
        lambda d: d["smart"].update(sms_param_count=2),
        "smart.sms_params: template needs 2 params, spec maps 1",
    ),
    (lambda d: d["smart"].update(sms_params=[f"c{i}" for i in range(20)]), "smart.sms_params: "),
    (lambda d: d["smart"].update(sms_params=[" "]), "smart.sms_params[0]: "),
    (lambda d: d["smart"].update(expiration_days=8), "smart.expiration_days: "),
    (lambda d: d["smart"].update(dync_params={"title": ""}), "smart.dync_params.title: "),
    (lambda d: d["smart"].pop("template_id"), "smart.template_id: required"),
    (lambda d: d["sms_channel"].update(signature="【华为云】"), "sms_channel.signature: without brackets"),
    (lambda d: d["sms_channel"].update(signature="华"), "sms_channel.signature: "),
    (lambda d: d["sms_channel"].update(channel_number="1" * 22), "sms_channel.channel_number: "),
    (
        lambda d: d.update(fallback={"policy": "basic"}),
        "fallback.basic_template_id: required when policy is 'basic'",
    ),
    (lambda d: d.update(fallback={"policy": "video"}), "fallback.policy: "),
    (lambda d: d.update(fallback={"via": "carrier-pigeon"}), "fallback.via: "),
    (lambda d: d.update(fallback={"basic_expiration_hours": 73}), "fallback.basic_expiration_hours: "),
    (lambda d: d.update(fallback={"sms_params": ["c"] * 21}), "fallback.sms_params: "),
    (lambda d: d.update(fallback={"basic_template_id": "1"}), "fallback.basic_template_id: must be 9 digits"),
    (
        lambda d: d["recipients"].update(sheet=0),
        'recipients.sheet: a sheet name, a sheet number from 1, or "all"',
    ),
    (lambda d: d["recipients"].update(sheets="all"), "recipients.sheets: unknown field"),
    (lambda d: d.update(schedule={"window": "8-21"}), 'schedule.window: expected "HH:MM-HH:MM"'),
    (lambda d: d.update(schedule={"window": "08:00-08:00"}), "schedule.window: start and end are equal"),
    (lambda d: d.update(schedule={"timezone": "Mars/Olympus"}), "schedule.timezone: unknown time zone"),
    (lambda d: d.update(schedule={"start_at": "2025-03-01T09:00:00"}), "schedule.start_at: "),
    (lambda d: d.update(schedule={"trial_numbers": ["13800138000", "12345"]}), "schedule.trial_numbers[1]: "),
    (lambda d: d.update(id="has space"), "id: only letters, digits, _ and -, at most 64"),
    (lambda d: d.update(id="x" * 65), "id: "),
    (lambda d: d.update(name="x" * 31), "name: "),
    (lambda d: d.update(colour="red"), "colour: unknown field"),
    (lambda d: d.pop("sms_channel"), "sms_channel: required"),
]


@pytest.mark.parametrize(("change", "message"), ERRORS)
def test_errors_name_the_field(change: Callable[[dict[str, Any]], object], message: str) -> None:
    with pytest.raises(ConfigError, match=r"^campaign spec: ") as caught:
        spec(change)
    assert message in str(caught.value)


def test_trial_numbers_are_normalised_and_masked_in_errors() -> None:
    assert spec(
        lambda d: d.update(schedule={"trial_numbers": ["+86 138-0013-8000"]})
    ).schedule.trial_numbers == ("13800138000",)
    with pytest.raises(ConfigError) as caught:
        spec(lambda d: d.update(schedule={"trial_numbers": ["1280013800"]}))
    assert "1280013800" not in str(caught.value) and "128****3800" in str(caught.value)


def test_load_spec_names_the_file_and_resolves_paths(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(SPEC_TOML, encoding="utf-8")
    loaded = load_spec(path)
    assert loaded.recipients.file == tmp_path / "data" / "r.csv"
    assert loaded.recipients.suppression_file == tmp_path / "optout.txt"
    path.write_text(SPEC_TOML.replace('"123456789"', '"1234"'), encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{path}: smart.template_id: must be 9 digits$"):
        load_spec(path)


@pytest.mark.parametrize(
    ("content", "message"), [(None, "cannot read the campaign spec"), ("name = ", "not a valid TOML file")]
)
def test_load_spec_file_errors(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "c.toml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as caught:
        load_spec(path)
    assert str(path) in str(caught.value)


def test_json_round_trip() -> None:
    s = spec(lambda d: d.update(schedule={"window": "22:00-06:00", "start_at": "2025-03-01T09:00:00+08:00"}))
    assert CampaignSpec.model_validate_json(s.model_dump_json()) == s


def test_param_columns_follow_the_active_fallback() -> None:
    def with_fallback(policy: str) -> CampaignSpec:
        return spec(
            lambda d: (
                d["smart"].update(dync_params={"title": "title", "who": "name"}),
                d.update(
                    fallback={
                        "policy": policy,
                        "sms_params": ["name", "amount"],
                        "basic_template_id": "987654321",
                        "basic_params": ["city", "name"],
                    }
                ),
            )
        )

    assert with_fallback("skip").param_columns() == ["name", "title"]
    assert with_fallback("sms").param_columns() == ["name", "title", "amount"]
    assert with_fallback("basic").param_columns() == ["name", "title", "city"]
    rules = with_fallback("basic").param_rules()
    assert [(r.column, r.used_by, r.max_len) for r in rules] == [
        ("name", "smart.sms_params", 20),
        ("city", "fallback.basic_params", 256),
        ("name", "fallback.basic_params", 256),
    ]


def test_check_against_names_field_and_column() -> None:
    s = spec(lambda d: d.update(fallback={"policy": "sms", "sms_params": ["name", "amount"]}))
    s.check_against(["mobile", "name", "amount"])
    with pytest.raises(
        ConfigError, match=r"^fallback.sms_params\[1\]: column 'amount' is not in the recipient"
    ):
        s.check_against(["mobile", "name"])
    with pytest.raises(ConfigError, match=r"recipients\.mobile_column: column 'mobile'"):
        s.check_against(["phone", "name", "amount"])


@pytest.mark.parametrize(
    ("window", "inside", "outside"),
    [
        ("08:00-21:00", [time(8), time(20, 59)], [time(21), time(7, 59)]),
        ("22:00-06:00", [time(23), time(1)], [time(6)]),
    ],
)
def test_window(window: str, inside: list[time], outside: list[time]) -> None:
    parsed = SendWindow.model_validate(window)
    assert all(parsed.contains(t) for t in inside)
    assert not any(parsed.contains(t) for t in outside)


def test_schedule_allows_in_the_campaign_time_zone() -> None:
    s = spec(lambda d: d.update(schedule={"window": "08:00-21:00", "start_at": "2025-03-01T09:00:00+08:00"}))
    beijing = timezone(timedelta(hours=8))
    assert s.schedule.allows(datetime(2025, 3, 1, 9, 30, tzinfo=beijing))
    assert s.schedule.allows(datetime(2025, 3, 2, 2, 0, tzinfo=UTC))  # 10:00 in Beijing
    assert not s.schedule.allows(datetime(2025, 3, 2, 14, 0, tzinfo=UTC))  # 22:00 in Beijing
    assert not s.schedule.allows(datetime(2025, 3, 1, 8, 30, tzinfo=beijing))  # before start_at


def test_read_recipients_uses_columns_rules_and_suppression(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text("mobile,name\n13800138000,张三\n13900139000,李四\n", encoding="utf-8")
    (tmp_path / "optout.txt").write_text("13900139000\n", encoding="utf-8")
    path = tmp_path / "c.toml"
    path.write_text(SPEC_TOML.replace("data/r.csv", "r.csv"), encoding="utf-8")
    r = for_campaign(load_spec(path), IngestSettings())
    assert (r.accepted, r.suppressed, r.frame.columns) == (1, 1, ["mobile", "name"])
    (tmp_path / "r.csv").write_text("mobile,name\n13800138000,a.b\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        for_campaign(load_spec(path), IngestSettings())
    # which row and column, which spec field, and why: the provider's rule, not ours
    assert (
        "r.csv: row 2, column 'name': contains '.', which smart.sms_params does not allow (the provider "
        "refuses SMS template parameters that contain any of ' . < > { } 。 or are not 1-20 characters long)"
    ) in str(caught.value)
    with pytest.raises(ConfigError, match=r"recipients\.file"):
        for_campaign(spec(lambda d: d.pop("recipients")), IngestSettings())
