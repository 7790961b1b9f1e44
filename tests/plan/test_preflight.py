"""Preflight against the simulator over loopback: templates, parameter counts, channel number, hints."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkkoomessage.v1 import (
    KooMessageClient,
    ListAimMsgTemplateRequest,
    ListPortInfosRequest,
    ShowAimMsgTemplateDetailRequest,
    ShowAimMsgTemplateVariableRequest,
)

from engine import api
from engine.errors import ConfigError
from engine.ingest.demo_data import generate_recipients
from engine.ingest.spec import CampaignSpec
from engine.plan import planner
from engine.plan.preflight import UNSUBSCRIBE_HINT, run_preflight
from engine.runtime.settings import Settings, load_settings
from engine.simulator import RunningSimulator, SimConfig, SimulatorThread
from engine.simulator.templates import default_ports, default_templates, sms_template
from engine.state import receipts_presence
from engine.store.connection import open_queue


def spec_data(**sections: dict[str, Any]) -> dict[str, Any]:
    """A campaign that matches the simulator's default catalogue; ``sections`` patch it per section."""
    data: dict[str, Any] = {
        "name": "preflight",
        "smart": {"template_id": "100000001", "sms_params": ["name"], "dync_params": {"name": "name"}},
        "sms_channel": {
            "channel_number": "10690000",
            "sms_template_id": "sms_tpl_1",
            "signature": "华为云",
            "app_name": "demo-app",
        },
        "fallback": {"policy": "sms", "sms_template_id": "sms_tpl_2", "sms_params": ["name", "amount"]},
        "recipients": {"mobile_column": "mobile"},
    }
    for section, values in sections.items():
        data[section] = {**data[section], **values}
    return data


def spec(**sections: dict[str, Any]) -> CampaignSpec:
    return CampaignSpec.model_validate(spec_data(**sections))


@pytest.fixture
def settings(simulator: RunningSimulator) -> Settings:
    return load_settings(provider={"koomessage_url": simulator.url, "smsapi_url": simulator.url})


def catalogue(kind: str, index: int, **changes: Any) -> dict[str, Any]:
    """The default templates with one entry changed."""
    templates = default_templates()
    templates[kind][index] = {**templates[kind][index], **changes}
    return {"templates": templates}


async def test_a_campaign_matching_the_catalogue_passes(settings: Settings) -> None:
    result = await run_preflight(spec(), settings)
    assert result.errors == () and result.warnings == ()


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"smart": {"template_id": "100000009"}}, "smart.template_id: template 100000009 not found"),
        (
            {"sms_channel": {"sms_template_id": "nope"}},
            "sms_channel.sms_template_id: SMS template nope",
        ),
        ({"fallback": {"sms_template_id": "gone"}}, "fallback.sms_template_id: SMS template gone not found"),
        (
            {"fallback": {"policy": "basic", "basic_template_id": "200000009"}},
            "fallback.basic_template_id: template 200000009 not found",
        ),
        (
            {"smart": {"sms_params": ["name", "amount"]}},
            "smart.sms_params: SMS template sms_tpl_1 has 1 variables besides the short link, the spec",
        ),
        ({"smart": {"dync_params": {}}}, "smart.dync_params: template 100000001 has 1 variables ['name']"),
        (
            {"fallback": {"sms_params": ["name"]}},
            "fallback.sms_params: SMS template sms_tpl_2 has 2",
        ),
        (
            {"fallback": {"policy": "basic", "basic_template_id": "200000001"}},
            "fallback.basic_params: template 200000001 has 1 variables ['#p_1#'], the spec maps 0",
        ),
        (
            {"sms_channel": {"sms_template_id": "sms_tpl_2"}, "smart": {"sms_params": ["name", "amount"]}},
            "sms_channel.sms_template_id: SMS template sms_tpl_2 has no short-link variable",
        ),
    ],
)
async def test_errors_name_the_field_and_the_template(
    settings: Settings, patch: dict[str, dict[str, Any]], message: str
) -> None:
    with pytest.raises(ConfigError, match="preflight: .*" + re.escape(message)):
        await run_preflight(spec(**patch), settings)


@pytest.mark.parametrize(
    ("kind", "index", "changes", "message"),
    [
        ("smart", 0, {"audit_state": 1}, "smart.template_id: template 100000001 is not approved and enabled"),
        ("smart", 0, {"tpl_state": 0}, "smart.template_id: template 100000001 is not approved and enabled"),
        (
            "sms",
            0,
            {"flow_status": "Reviewing"},
            "sms_channel.sms_template_id: SMS template sms_tpl_1",
        ),
        (
            "sms",
            1,
            {"flow_status": "Reject"},
            "fallback.sms_template_id: SMS template sms_tpl_2 is",
        ),
    ],
)
async def test_unapproved_templates_are_errors(
    settings: Settings,
    simulator: RunningSimulator,
    kind: str,
    index: int,
    changes: dict[str, Any],
    message: str,
) -> None:
    simulator.update_config(catalogue(kind, index, **changes))
    with pytest.raises(ConfigError, match=re.escape(message)):
        await run_preflight(spec(), settings)


async def test_an_unusable_basic_template_is_an_error(
    settings: Settings, simulator: RunningSimulator
) -> None:
    simulator.update_config(catalogue("basic", 0, audit_state=2))
    basic = {"policy": "basic", "basic_template_id": "200000001", "basic_params": ["name"]}
    with pytest.raises(ConfigError, match="template 200000001 is not usable"):
        await run_preflight(spec(fallback=basic), settings)


@pytest.mark.parametrize(
    ("ports", "state"),
    [([], "is not registered"), ([{"is_bind": 0}], "is not bound to a service number")],
)
async def test_an_unbound_channel_number_is_an_error_when_the_campaign_asks(
    settings: Settings, simulator: RunningSimulator, ports: list[dict[str, Any]], state: str
) -> None:
    simulator.update_config({"ports": [{**default_ports()[0], **p} for p in ports]})
    assert (await run_preflight(spec(), settings)).errors == ()  # not asked: not checked
    with pytest.raises(ConfigError, match=f"sms_channel.channel_number: channel number 10690000 {state}"):
        await run_preflight(spec(sms_channel={"require_service_number": True}), settings)


async def test_a_bound_channel_number_passes_and_a_foreign_signature_warns(settings: Settings) -> None:
    asks = spec(sms_channel={"require_service_number": True})
    assert (await run_preflight(asks, settings)).warnings == ()
    other = spec(sms_channel={"require_service_number": True, "signature": "别家"})
    [warning] = (await run_preflight(other, settings)).warnings
    assert warning.startswith("sms_channel.signature: '别家' is not among the signatures")


async def test_a_promotion_template_without_an_unsubscribe_hint_is_only_a_warning(
    settings: Settings, simulator: RunningSimulator
) -> None:
    simulator.update_config(catalogue("sms", 1, template_content="${1}您好，您有${2}元优惠券待领取"))
    result = await run_preflight(spec(), settings)
    assert result.errors == ()
    assert result.warnings == (
        "fallback.sms_template_id: promotion SMS template sms_tpl_2 has no unsubscribe hint "
        "(e.g. 拒收请回复R)",
    )


@pytest.mark.parametrize(
    ("text", "hinted"),
    [("拒收请回复R", True), ("回T退订", True), ("退订回TD", True), ("回复TD退订", True), ("欢迎光临", False)],
)
def test_unsubscribe_hints(text: str, hinted: bool) -> None:
    assert bool(UNSUBSCRIBE_HINT.search(f"优惠来了，{text}")) is hinted


async def test_a_message_sms_fallback_template_is_not_checkable(settings: Settings) -> None:
    result = await run_preflight(spec(fallback={"via": "smsapi", "sms_template_id": "anything"}), settings)
    assert result.errors == ()
    assert result.warnings == (
        "fallback.sms_template_id: Message&SMS template anything not checked (the send API offers no "
        "template query)",
    )


async def test_submit_runs_preflight_before_writing_anything(
    settings: Settings, redis_url: str, tmp_path: Path
) -> None:
    generate_recipients(tmp_path / "r.csv", 50, seed=1)
    redis = await open_queue(redis_url)
    try:
        bad = spec_data(smart={"template_id": "100000009"})
        with pytest.raises(ConfigError, match=re.escape("template 100000009 not found")):
            await api.submit_campaign(bad, redis=redis, recipients=tmp_path / "r.csv", settings=settings)
        assert await redis.dbsize() == 0
        offline = await api.submit_campaign(
            bad, redis=redis, recipients=tmp_path / "r.csv", settings=settings, preflight=False
        )
        assert offline.created
        good = await api.submit_campaign(
            spec_data(), redis=redis, recipients=tmp_path / "r.csv", settings=settings
        )
        sms_fallback = CampaignSpec.model_validate(spec_data())
        assert good.created and good.warnings == await planner.sms_settling(redis, sms_fallback)
        assert good.warnings and "at most once" in good.warnings[0]  # SMS fallback, no receipts service
        await receipts_presence.beat(redis)  # `koodispatch receipts` runs on this Redis
        assert await planner.sms_settling(redis, sms_fallback) == ()
    finally:
        await redis.aclose()


def test_the_official_sdk_parses_the_template_and_port_answers(simulator_thread: SimulatorThread) -> None:
    c = simulator_thread.config
    km = (
        KooMessageClient.new_builder()
        .with_credentials(BasicCredentials(c.ak, c.sk, c.project_id))
        .with_endpoints([simulator_thread.url])
        .build()
    )
    listed = km.list_aim_msg_template(ListAimMsgTemplateRequest(offset=0, limit=10, flow_status="Adopted"))
    assert [t.template_id for t in listed.result] == ["sms_tpl_1", "sms_tpl_2"]
    assert listed.page_info.total == 2
    detail = km.show_aim_msg_template_detail(ShowAimMsgTemplateDetailRequest(template_id="sms_tpl_2"))
    assert detail.template_type == "PROMOTION_TYPE" and "拒收请回复R" in detail.template_content
    variables = km.show_aim_msg_template_variable(ShowAimMsgTemplateVariableRequest(template_id="sms_tpl_1"))
    assert variables.total == 2 and [v.variable_type for v in variables.results] == ["TEXT", "NEWTEXT"]
    ports = km.list_port_infos(ListPortInfosRequest(port="10690000", offset=0, limit=10)).data
    assert ports.page_info.total == 1 and ports.data[0].is_bind == 1 and ports.data[0].sign == ["华为云"]


def test_the_sms_catalogue_is_configurable_and_validated() -> None:
    config = SimConfig()
    custom = copy.deepcopy(config.templates)
    custom["sms"].append(sms_template("promo", "${1}", "PROMOTION_TYPE", ["TEXT"]))
    config.update({"templates": custom})
    assert [t["template_id"] for t in config.templates["sms"]][-1] == "promo"
    with pytest.raises(ConfigError, match=re.escape("templates.sms")):
        config.update({"templates": {"sms": [{"template_id": ""}]}})
    with pytest.raises(ConfigError, match="ports"):
        config.update({"ports": [{"port": 1}]})
