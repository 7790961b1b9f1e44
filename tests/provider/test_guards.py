"""Client-side guards: a request the provider would refuse is refused before it is sent, naming the item."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from engine.errors import (
    BadRequest,
    ProviderError,
    TooManyNumbers,
)
from engine.provider import (
    LinkParam,
    SmartParam,
    SmsChannel,
    limits,
)
from engine.provider.bodies import smart_body
from engine.simulator import RunningSimulator
from engine.simulator.templates import DEMO_BASIC_TPL_ID, DEMO_SMART_TPL_ID
from tests.provider.clients import CHANNEL, NUMBERS, Clients, smart_params

# -- client-side guards --------------------------------------------------------------------------------------
Call = Callable[[Clients], Awaitable[object]]


GUARDS: dict[str, tuple[Call, type[ProviderError], str]] = {
    "capability-101": (
        lambda c: c.km.check_capability([*NUMBERS, "13900000000"]),
        TooManyNumbers,
        limits.KM_TOO_MANY_NUMBERS,
    ),
    "capability-empty": (lambda c: c.km.check_capability([]), BadRequest, limits.KM_PHONE_LIST_EMPTY),
    "capability-tpl-id": (
        lambda c: c.km.check_capability(NUMBERS[:1], "12345"),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "smart-101": (
        lambda c: c.km.create_aim_send_task(
            "t", CHANNEL, DEMO_SMART_TPL_ID, smart_params([*NUMBERS, "13900000000"])
        ),
        TooManyNumbers,
        limits.KM_TOO_MANY_LINKS,
    ),
    "smart-20-sms-params": (
        lambda c: c.km.create_aim_send_task(
            "t", CHANNEL, DEMO_SMART_TPL_ID, [SmartParam(NUMBERS[0], ("a",) * 20)]
        ),
        BadRequest,
        limits.KM_SMS_PARAM_COUNT,
    ),
    "smart-forbidden-char": (
        lambda c: c.km.create_aim_send_task(
            "t", CHANNEL, DEMO_SMART_TPL_ID, [SmartParam(NUMBERS[0], ("a{b",))]
        ),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "smart-param-21-chars": (
        lambda c: c.km.create_aim_send_task(
            "t", CHANNEL, DEMO_SMART_TPL_ID, [SmartParam(NUMBERS[0], ("x" * 21,))]
        ),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "smart-tpl-id": (
        lambda c: c.km.create_aim_send_task("t", CHANNEL, "10000000a", smart_params(NUMBERS[:1])),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "smart-8-days": (
        lambda c: c.km.create_aim_send_task("t", CHANNEL, DEMO_SMART_TPL_ID, smart_params(NUMBERS[:1]), 8),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "smart-channel-22": (
        lambda c: c.km.create_aim_send_task(
            "t", SmsChannel("1" * 22, "s", "华为云", "a"), DEMO_SMART_TPL_ID, smart_params(NUMBERS[:1])
        ),
        BadRequest,
        limits.KM_CHANNEL_NUMBER_LENGTH,
    ),
    "sms-501": (
        lambda c: c.km.send_sms("tpl", [NUMBERS[0]] * 501, []),
        TooManyNumbers,
        limits.KM_TOO_MANY_NUMBERS,
    ),
    "sms-21-params": (
        lambda c: c.km.send_sms("tpl", NUMBERS[:1], ["p"] * 21),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "sms-extend-129": (
        lambda c: c.km.send_sms("tpl", NUMBERS[:1], [], extend="e" * 129),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "sms-extend-braces": (
        lambda c: c.km.send_sms("tpl", NUMBERS[:1], [], extend="{x}"),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "sms-empty-number": (
        lambda c: c.km.send_sms("tpl", ["", "13800000000"], []),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "sms-letters-in-number": (
        lambda c: c.km.send_sms("tpl", ["1380000000a"], []),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "sms-diff-501-in-all": (
        lambda c: c.km.send_diff_sms(
            [(NUMBERS * 3, "a", []), (NUMBERS * 2 + NUMBERS[:1], "b", [])], channel_num="1"
        ),
        TooManyNumbers,
        limits.KM_TOO_MANY_NUMBERS,
    ),
    "smsapi-501": (
        lambda c: c.sms.batch_send_sms("8824110605", NUMBERS * 5 + NUMBERS[:1], "tpl", []),
        TooManyNumbers,
        limits.KM_TOO_MANY_NUMBERS,
    ),
    "smsapi-no-sender": (
        lambda c: c.sms.batch_send_sms("", NUMBERS[:1], "tpl", []),
        BadRequest,
        limits.KM_CHANNEL_NUMBER_LENGTH,
    ),
    "basic-5001": (
        lambda c: c.km.create_vms_send_task("t", DEMO_BASIC_TPL_ID, mobiles=NUMBERS * 50 + NUMBERS[:1]),
        TooManyNumbers,
        limits.KM_TOO_MANY_NUMBERS,
    ),
    "basic-both": (
        lambda c: c.km.create_vms_send_task(
            "t", DEMO_BASIC_TPL_ID, mobiles=NUMBERS[:1], individual=[(NUMBERS[1:2], [])]
        ),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "basic-neither": (
        lambda c: c.km.create_vms_send_task("t", DEMO_BASIC_TPL_ID),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "basic-73-hours": (
        lambda c: c.km.create_vms_send_task("t", DEMO_BASIC_TPL_ID, mobiles=NUMBERS[:1], expiration_hours=73),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "basic-101-params": (
        lambda c: c.km.create_vms_send_task("t", DEMO_BASIC_TPL_ID, mobiles=NUMBERS[:1], params=["p"] * 101),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "resolve-6-signs": (
        lambda c: c.km.create_resolve_task(DEMO_SMART_TPL_ID, ["s"] * 6, [LinkParam("x")]),
        BadRequest,
        limits.KM_BAD_SIGN_COUNT,
    ),
    "resolve-bracketed-sign": (
        lambda c: c.km.create_resolve_task(DEMO_SMART_TPL_ID, ["【华为云】"], [LinkParam("x")]),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "resolve-group-2-links": (
        lambda c: c.km.create_resolve_task(
            DEMO_SMART_TPL_ID,
            ["s"],
            [LinkParam("x"), LinkParam("y")],
            aim_code_type="group",
            resolving_times=5,
        ),
        TooManyNumbers,
        limits.KM_TOO_MANY_LINKS,
    ),
    "resolve-group-once": (
        lambda c: c.km.create_resolve_task(DEMO_SMART_TPL_ID, ["s"], [LinkParam("x")], aim_code_type="group"),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "list-limit-101": (
        lambda c: c.km.list_aim_send_tasks(limit=101),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "list-window-10000": (
        lambda c: c.km.list_aim_send_details(offset=9950, limit=100),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
    "callback-url-type": (
        lambda c: c.km.add_callback("http://127.0.0.1/x", 3),
        BadRequest,
        limits.KM_INVALID_PARAMETER,
    ),
}


@pytest.mark.parametrize(("call", "error", "provider_code"), GUARDS.values(), ids=GUARDS.keys())
async def test_guards_raise_before_anything_is_sent(
    clients: Clients, simulator: RunningSimulator, call: Call, error: type[ProviderError], provider_code: str
) -> None:
    with pytest.raises(ProviderError) as caught:
        await call(clients)
    assert type(caught.value) is error
    assert (caught.value.code, caught.value.provider_code) == (0, provider_code)
    assert "refused before sending" in str(caught.value)
    assert sum(simulator.ledger.calls.values()) == 0


# A whole call is checked at once (bodies.smart_items); a bad value anywhere must still be refused, naming
# its recipient, exactly as a check per recipient would.
BAD_AMONG_GOOD: dict[str, tuple[str, tuple[str, ...], str]] = {
    "empty-value": (NUMBERS[57], ("ok", ""), "sms_param"),
    "21-char-value": (NUMBERS[57], ("x" * 21,), "sms_param"),
    "forbidden-char": (NUMBERS[57], ("价格。",), "sms_param"),
    "20-values": (NUMBERS[57], ("a",) * 20, "20 sms_params"),
    "empty-cust-flag": ("", ("ok",), "cust_flag length 0"),
    "65-char-cust-flag": ("1" * 65, ("ok",), "cust_flag length 65"),
}


@pytest.mark.parametrize(("mobile", "values", "named"), BAD_AMONG_GOOD.values(), ids=BAD_AMONG_GOOD.keys())
def test_one_bad_smart_param_in_a_full_call_is_refused_and_named(
    mobile: str, values: tuple[str, ...], named: str
) -> None:
    params = [SmartParam(n, (f"客户{i}", "x" * 20)) for i, n in enumerate(NUMBERS)]
    params[57] = SmartParam(mobile, values)
    with pytest.raises(BadRequest) as caught:
        smart_body("t", CHANNEL, DEMO_SMART_TPL_ID, params, 3)
    assert named in str(caught.value)
    if mobile == NUMBERS[57]:
        assert "138****0057" in str(caught.value)


def test_a_full_call_at_every_limit_is_built_as_given() -> None:
    """19 values of 20 characters, a NUL and non-ASCII text, no values at all, a dync map: all allowed."""
    edge = ("\x00" + "y" * 19, *("价" * 20 for _ in range(18)))
    dync = SmartParam(NUMBERS[2], ("a",), {"v": "1"})
    params = [SmartParam(NUMBERS[0], edge), SmartParam(NUMBERS[1]), dync]
    items = smart_body("t", CHANNEL, DEMO_SMART_TPL_ID, params, 3)["resolve_task"]["params"]  # type: ignore[index]
    assert items == [
        {"cust_flag": NUMBERS[0], "sms_params": edge},
        {"cust_flag": NUMBERS[1], "sms_params": ()},
        {"cust_flag": NUMBERS[2], "sms_params": ("a",), "dync_params": {"v": "1"}},
    ]
