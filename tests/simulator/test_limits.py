"""Every per-request limit of the contract (§8.5) is rejected with HTTP 400 and its KM code."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from engine.simulator import RunningSimulator
from engine.simulator.capability import mobile_digest
from engine.simulator.testing import SignedClient, smart_send_body

DROP = object()  # marks a key to remove from the valid body


def numbers(count: int, start: int = 0) -> list[str]:
    return [f"139{start + i:08d}" for i in range(count)]


def links(count: int) -> list[dict[str, Any]]:
    return [{"cust_flag": m, "sms_params": ["a"]} for m in numbers(count)]


CAPABILITY = ("/v1/aim/mobile-capabilities/check", {"mobiles": numbers(2), "tpl_id": "100000001"})
RESOLVE = (
    "/v1/aim/resolve-tasks",
    {
        "tpl_id": "100000001",
        "sms_signs": ["华为云"],
        "resolving_times": 1,
        "aim_code_type": "individual",
        "expiration_time": 7,
        "params": [{"cust_flag": "c1", "dync_params": {"name": "x"}}],
    },
)
SEND = ("/v1/aim/send-tasks", smart_send_body("t", numbers(2), sms_params=["a"]))
SMS = (
    "/v1/aim/sms/messages",
    {"template_id": "t", "to": numbers(2), "template_params": ["a"], "extend": "e"},
)
SMS_DIFF = (
    "/v1/aim/sms/diff-messages",
    {
        "channel_num": "10690000",
        "sms_content": [{"to": numbers(2), "template_id": "t", "template_params": ["a"]}],
    },
)
SMSAPI_DIFF = (
    "/sms/batchSendDiffSms/v1",
    {"from": "10690000", "smsContent": [{"to": numbers(1), "templateId": "t"}]},
)
BASIC = (
    "/v1/aim-basic/send-tasks",
    {"task_name": "v", "tpl_id": "200000001", "expiration_time": 24, "mobiles": numbers(2)},
)
TEMPLATE_REPORTS = (
    "/v1/aim/template-reports/query",
    {"tpl_ids": ["100000001"], "begin_time": "2024-01-01T00:00:00Z", "end_time": "2024-03-01T00:00:00Z"},
)


def patched(body: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``body`` with the dotted ``key`` set to ``value`` (or removed with DROP)."""
    out = copy.deepcopy(body)
    *parents, last = key.split(".")
    target = out
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if value is DROP:
        del target[last]
    else:
        target[last] = value
    return out


JSON_CASES = [
    (CAPABILITY, "mobiles", numbers(101), "KM.90016301"),
    (CAPABILITY, "mobiles", [], "KM.00001083"),
    (CAPABILITY, "tpl_id", "1234", "KM.00000400"),
    (CAPABILITY, "tpl_id", "999999999", "KM.00001082"),
    (CAPABILITY, "encryption_alg", "MD5", "KM.00000400"),
    (RESOLVE, "params", [{"cust_flag": f"c{i}"} for i in range(101)], "KM.90016403"),
    (RESOLVE, "params", [], "KM.90016415"),
    (RESOLVE, "params.0.cust_flag", "x" * 65, "KM.00000400"),
    (RESOLVE, "sms_signs", ["a", "b", "c", "d", "e", "f"], "KM.90016417"),
    (RESOLVE, "sms_signs", [], "KM.90016417"),
    (RESOLVE, "sms_signs", [""], "KM.00001075"),
    (RESOLVE, "aim_code_type", "batch", "KM.90016418"),
    (RESOLVE, "expiration_time", 8, "KM.00000400"),
    (RESOLVE, "tpl_id", "10000000a", "KM.00000400"),
    (RESOLVE, "generation_type", "2", "KM.00000400"),  # custom short codes need a domain
    (SEND, "resolve_task.params", links(101), "KM.90016403"),
    (SEND, "resolve_task.params", [], "KM.90016415"),
    (SEND, "resolve_task.aim_code_type", "group", "KM.90016418"),
    (SEND, "resolve_task.expiration_time", 8, "KM.00000400"),
    (SEND, "resolve_task.expiration_time", 0, "KM.00000400"),
    (SEND, "resolve_task.tpl_id", "123456789", "KM.00001082"),
    (SEND, "resolve_task.tpl_id", "12345678", "KM.00000400"),
    (SEND, "resolve_task.params.0.sms_params", ["a"] * 20, "KM.00001376"),
    (SEND, "resolve_task.params.0.sms_params", ["a" * 21], "KM.00000400"),
    (SEND, "resolve_task.params.0.sms_params", ["a.b"], "KM.00000400"),
    (SEND, "resolve_task.params.0.sms_params", [""], "KM.00000400"),
    (SEND, "resolve_task.params.0.cust_flag", "1" * 65, "KM.00000400"),
    (SEND, "resolve_task.params.0.custom_url", "https://x/" + "a" * 2048, "KM.00000400"),
    (SEND, "sms_channel.channel_number", "1" * 22, "KM.00001098"),
    (SEND, "sms_channel.sms_sign", "", "KM.00001075"),
    (SEND, "task_name", DROP, "KM.00000400"),
    (SEND, "resolve_task", DROP, "KM.90016414"),
    (SMS, "to", numbers(501), "KM.90016301"),
    (SMS, "to", ["1" * 22], "KM.90016301"),
    (SMS, "to", [], "KM.00001083"),
    (SMS, "template_params", ["a"] * 21, "KM.00000400"),
    (SMS, "extend", "e" * 129, "KM.00000400"),
    (SMS, "extend", "a{b}", "KM.00000400"),
    (SMS, "template_id", "t" * 51, "KM.00000400"),
    (SMS, "channel_num", "1" * 22, "KM.00001098"),
    (SMS, "task_name", "n" * 31, "KM.00000400"),
    (SMS_DIFF, "sms_content", [], "KM.90016415"),
    (
        SMS_DIFF,
        "sms_content",
        [{"to": numbers(300), "template_id": "a"}, {"to": numbers(201), "template_id": "b"}],
        "KM.90016301",
    ),
    (SMS_DIFF, "channel_num", DROP, "KM.00001098"),
    (SMSAPI_DIFF, "smsContent.0.to", numbers(501), "KM.90016301"),
    (SMSAPI_DIFF, "smsContent.0.templateParas", ["p"] * 21, "KM.00000400"),
    (BASIC, "mobiles", numbers(5001), "KM.90016301"),
    (BASIC, "mobiles", DROP, "KM.00001083"),
    (BASIC, "individual_params", [{"mobiles": numbers(1)}], "KM.00000400"),  # together with mobiles
    (BASIC, "expiration_time", 73, "KM.00000400"),
    (BASIC, "exdata", "x" * 257, "KM.00000400"),
    (BASIC, "tpl_id", "200000002", "KM.00001082"),
    (BASIC, "dync_params", [{"param_name": "p" * 65}], "KM.00000400"),
    (TEMPLATE_REPORTS, "tpl_ids", ["100000001"] * 101, "KM.00000400"),
    (TEMPLATE_REPORTS, "end_time", "2024-04-01T00:00:01Z", "KM.00000400"),
    (TEMPLATE_REPORTS, "tpl_ids", [], "KM.90016414"),
]


def _case_id(case: tuple[Any, ...]) -> str:
    (path, _), key, value, code = case
    size = f"len{len(value)}" if isinstance(value, list | str) else repr(value)[:12]
    return f"{path.rsplit('/', 1)[-1]}:{key}={size}:{code}"


@pytest.mark.parametrize("case", JSON_CASES, ids=[_case_id(c) for c in JSON_CASES])
async def test_limit_rejected(
    sim_client: SignedClient, simulator: RunningSimulator, case: tuple[Any, ...]
) -> None:
    (path, valid), key, value, code = case
    reply = await sim_client.call("POST", path, json=patched(valid, key, value))
    assert (reply.status, reply.body["error_code"]) == (400, code), reply.body
    assert reply.headers["X-Request-Id"]
    snapshot = simulator.ledger.snapshot()
    assert all(snapshot[c]["accepted"] == 0 for c in ("smart", "sms", "basic"))


async def test_basic_individual_params_count_together(sim_client: SignedClient) -> None:
    body = patched(BASIC[1], "mobiles", DROP)
    body["individual_params"] = [{"mobiles": numbers(2500)}, {"mobiles": numbers(2501, 2500)}]
    reply = await sim_client.call("POST", BASIC[0], json=body)
    assert (reply.status, reply.body["error_code"]) == (400, "KM.90016301")


async def test_group_resolve_task_takes_one_link(sim_client: SignedClient) -> None:
    body = patched(RESOLVE[1], "aim_code_type", "group")
    body.update(resolving_times=2, expiration_time=180, params=[{"cust_flag": "a"}, {"cust_flag": "b"}])
    reply = await sim_client.call("POST", RESOLVE[0], json=body)
    assert (reply.status, reply.body["error_code"]) == (400, "KM.90016403")
    body.update(resolving_times=1, params=[{"cust_flag": "a"}])
    reply = await sim_client.call("POST", RESOLVE[0], json=body)
    assert (reply.status, reply.body["error_code"]) == (
        400,
        "KM.00000400",
    )  # group needs resolving_times >= 2
    body["resolving_times"] = 2
    assert (await sim_client.call("POST", RESOLVE[0], json=body)).status == 200


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"from": "1069", "to": ",".join(numbers(501)), "templateId": "t"}, "KM.90016301"),
        ({"from": "1069", "to": "", "templateId": "t"}, "KM.00001083"),
        ({"from": "1069", "to": "1" * 22, "templateId": "t"}, "KM.90016301"),
        ({"from": "1069", "to": "13900000000", "templateId": "t", "templateParas": "[oops"}, "KM.00000400"),
        (
            {
                "from": "1069",
                "to": "13900000000",
                "templateId": "t",
                "templateParas": '["a"' + ',"a"' * 20 + "]",
            },
            "KM.00000400",
        ),
        ({"to": "13900000000", "templateId": "t"}, "KM.00001098"),
        ({"from": "1069", "to": "13900000000", "templateId": "t", "extend": "{x}"}, "KM.00000400"),
    ],
)
async def test_sms_api_form_limits(sim_client: SignedClient, form: dict[str, str], code: str) -> None:
    reply = await sim_client.call("POST", "/sms/batchSendSms/v1", form=form)
    assert (reply.status, reply.body["error_code"]) == (400, code)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/aim/send-tasks", {"offset": 9990, "limit": 20}),
        ("/v1/aim/send-tasks", {"limit": 101}),
        ("/v1/aim/send-tasks", {"offset": -1}),
        ("/v1/aim/send-details", {"limit": 10}),  # offset is required here
        ("/v1/aim/resolve-details", {"offset": 0}),  # and limit
        ("/v1/aim-basic/send-tasks", {"offset": 5000, "limit": 5001}),
        ("/v1/aim/send-tasks", {"begin_time": "yesterday", "end_time": "2024-01-01T00:00:00Z"}),
    ],
)
async def test_list_paging_limits(sim_client: SignedClient, path: str, params: dict[str, Any]) -> None:
    reply = await sim_client.call("GET", path, params=params)
    assert (reply.status, reply.body["error_code"]) == (400, "KM.00000400")


@pytest.mark.parametrize(
    "base",
    [
        CAPABILITY,
        RESOLVE,
        SEND,
        (SEND[0], patched(SEND[1], "sms_channel.sms_tpl_id", 1)),  # the doc example sends a number
        SMS,
        SMS_DIFF,
        SMSAPI_DIFF,
        BASIC,
        TEMPLATE_REPORTS,
    ],
    ids=lambda b: b[0],
)
async def test_valid_bodies_pass(sim_client: SignedClient, base: tuple[str, dict[str, Any]]) -> None:
    reply = await sim_client.call("POST", base[0], json=base[1])
    assert reply.status == 200, reply.body


async def test_per_item_failures_are_data_not_errors(
    sim_client: SignedClient, simulator: RunningSimulator
) -> None:
    body = patched(
        SEND[1], "resolve_task.params", [{"cust_flag": c} for c in ("13900000001", "12345", "+8613900000002")]
    )
    reply = await sim_client.call("POST", SEND[0], json=body)
    assert reply.status == 200
    assert [(f["cust_flag"], f["result_code"]) for f in reply.body["failed_short_chains"]] == [
        ("12345", "KM.00001084")
    ]
    assert set(reply.body["failed_short_chains"][0]) >= {
        "aim_url",
        "aim_code",
        "generate_date",
        "expire_date",
        "cust_id",
    }
    assert simulator.ledger.count("smart", "13900000002") == 1

    everyone_bad = patched(SEND[1], "resolve_task.params", [{"cust_flag": "abc"}])
    reply = await sim_client.call("POST", SEND[0], json=everyone_bad)
    assert (reply.status, reply.body["task_state"], reply.body["send_count"]) == (200, "Failed", 0)


async def test_a_number_gets_one_verdict_in_every_spelling_and_hashed(sim_client: SignedClient) -> None:
    """The capability check's verdict is a function of the number: plain, in another spelling or sent as
    its SHA-1 digest (encryption_alg=SHA1), the same numbers come back capable; the lists partition the
    input in its order, the unusable entries among the unsupported."""
    plain = numbers(98, start=5000)  # + 2 unusable entries = the 100 a check takes
    spelled = [("+86", "0086", "86", "")[i % 4] + n for i, n in enumerate(plain)]

    async def check(mobiles: list[str], algorithm: str = "NONE") -> tuple[list[str], list[str]]:
        body = {"mobiles": mobiles, "tpl_id": "100000001", "encryption_alg": algorithm}
        reply = await sim_client.call("POST", CAPABILITY[0], json=body)
        assert reply.status == 200, reply.body
        return reply.body["supported_mobiles"], reply.body["unsupported_mobiles"]

    supported, unsupported = await check([*plain, "12345", "1390000000x"])
    assert 0 < len(supported) < len(plain)  # the share splits them: a verdict that is always one fails here
    assert unsupported[-2:] == ["12345", "1390000000x"]
    assert supported + unsupported[:-2] == sorted(plain, key=lambda n: (n not in supported, plain.index(n)))
    again = await check(spelled)
    assert again[0] == [s for s, n in zip(spelled, plain, strict=True) if n in supported]
    hashed = await check([mobile_digest(n) for n in plain], "SHA1")
    assert hashed[0] == [mobile_digest(n) for n in supported]


SMS_PARAMS_MESSAGE = "sms_params values must be 1-20 characters without . 。 ' < > { }"
TO_MESSAGE = "each to number must be a string of 1-21 characters"
FULL_SEND = (SEND[0], smart_send_body("t", numbers(100), sms_params=["a"]))
FULL_DIFF = (
    SMS_DIFF[0],
    {
        "channel_num": "10690000",
        "sms_content": [{"to": [n], "template_id": "t", "template_params": ["a"]} for n in numbers(500)],
    },
)
# (call, list of items, field of its last item (None: the item itself), value, code, message)
LATE_ITEM_CASES = [
    (FULL_SEND, "resolve_task.params", "sms_params", ["a.b"], "KM.00000400", SMS_PARAMS_MESSAGE),
    (FULL_SEND, "resolve_task.params", "sms_params", [""], "KM.00000400", SMS_PARAMS_MESSAGE),
    (FULL_SEND, "resolve_task.params", "sms_params", ["a" * 15 + "\x00" + "b" * 10], "KM.00000400", None),
    (FULL_SEND, "resolve_task.params", "sms_params", "a", "KM.00000400", "sms_params must be a list"),
    (FULL_SEND, "resolve_task.params", "sms_params", ["a"] * 20, "KM.00001376", None),
    (FULL_SEND, "resolve_task.params", "cust_flag", "", "KM.00000400", None),
    (FULL_SEND, "resolve_task.params", None, "13900000099", "KM.00000400", "params items must be objects"),
    (FULL_SEND, "resolve_task.params", "custom_url", "ftp://x", "KM.00000400", None),
    (FULL_DIFF, "sms_content", "to", ["1" * 22], "KM.90016301", TO_MESSAGE),
    (FULL_DIFF, "sms_content", "to", [], "KM.00001083", "to is empty"),
    (FULL_DIFF, "sms_content", "to", "13900000499", "KM.00000400", "to must be a list"),
    (FULL_DIFF, "sms_content", "template_id", " ", "KM.00000400", None),
    (FULL_DIFF, "sms_content", "template_params", ["a"] * 21, "KM.00000400", None),
    (
        FULL_DIFF,
        "sms_content",
        "template_params",
        [1],
        "KM.00000400",
        "template_params values must be strings",
    ),
    (FULL_DIFF, "sms_content", None, [], "KM.00000400", "message content items must be objects"),
]


@pytest.mark.parametrize(
    "case", LATE_ITEM_CASES, ids=[f"{c[1]}.{c[2]}={c[3]!r:.12}:{c[4]}" for c in LATE_ITEM_CASES]
)
async def test_a_bad_item_at_the_end_of_a_full_call_is_rejected_as_if_alone(
    sim_client: SignedClient, simulator: RunningSimulator, case: tuple[Any, ...]
) -> None:
    """Full calls are checked as a whole first; one bad item after many good ones still gets the per-item
    check's code and message, the same as when it is the only item."""
    (path, valid), items_key, field, value, code, message = case
    items = valid
    for part in items_key.split("."):
        items = items[part]
    bad_item = value if field is None else {**items[-1], field: value}
    replies = [
        await sim_client.call("POST", path, json=patched(valid, items_key, [*items[:-1], bad_item])),
        await sim_client.call("POST", path, json=patched(valid, items_key, [bad_item])),
    ]
    late, alone = ((r.status, r.body["error_code"], r.body["error_msg"]) for r in replies)
    assert late == alone and late[:2] == (400, code), late
    assert message is None or late[2] == message
    snapshot = simulator.ledger.snapshot()
    assert snapshot["smart"]["accepted"] == 0 == snapshot["sms"]["accepted"]


async def test_the_first_bad_item_names_the_error(sim_client: SignedClient) -> None:
    """Items are judged in order, as one by one: a bad template id before a bad number is the error."""
    body = copy.deepcopy(FULL_DIFF[1])
    body["sms_content"][10]["template_id"] = ""
    body["sms_content"][400]["to"] = ["1" * 22]
    reply = await sim_client.call("POST", FULL_DIFF[0], json=body)
    assert (reply.status, reply.body["error_code"]) == (400, "KM.00000400"), reply.body
    assert reply.body["error_msg"] == "template_id is required and must be a non-empty string"


async def test_full_calls_pass_and_are_ledgered(
    sim_client: SignedClient, simulator: RunningSimulator
) -> None:
    for path, body in (FULL_SEND, FULL_DIFF):
        reply = await sim_client.call("POST", path, json=body)
        assert reply.status == 200, reply.body
    diff = reply.body["result"]
    assert [(r["to"], r["msg_id"], r["send_status"]) for r in diff] == [
        (n, f"{reply.body['task_id']}_{i}", "000000") for i, n in enumerate(numbers(500))
    ]
    snapshot = simulator.ledger.snapshot()
    assert (snapshot["smart"]["unique"], snapshot["sms"]["unique"]) == (100, 500)
