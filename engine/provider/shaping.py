"""Request shaping shared by both provider clients: limit guards, number formats, masking, per-item results.

Every guard raises before a request is built, so the client never sends what the provider would reject;
the raised error carries ``code=0`` (no HTTP answer) and the KM code the provider would have answered.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence, Sized
from itertools import chain, islice
from typing import Any

from engine.errors import Ambiguous, BadRequest, TooManyNumbers
from engine.phones import mask
from engine.provider import limits
from engine.provider.codes import CALL_OK
from engine.provider.models import SendResult

_DIGITS = re.compile(r"[0-9]+")  # never \d: it accepts non-ASCII digits
_SMS_TO = re.compile(r"[0-9+]+")
_FORBIDDEN = re.compile("[" + re.escape("".join(sorted(limits.SMS_PARAM_FORBIDDEN))) + "]")
_PHONE_IN_TEXT = re.compile(r"(?<![0-9])((?:\+?86)?1[0-9]{2})[0-9]{4}([0-9]{4})(?![0-9])")
CN_PREFIX = "+86"


# -- numbers -----------------------------------------------------------------------------------------------
def mask_text(text: str) -> str:
    """Mask every phone number inside free text (provider error messages may echo them)."""
    return _PHONE_IN_TEXT.sub(r"\1****\2", text)


def international(number: str) -> str:
    """An 11-digit mainland number as the Message&SMS API wants it (``+86`` prefix); others unchanged."""
    return number if number.startswith("+") else CN_PREFIX + number


def national(number: str) -> str:
    """The 11-digit form of a number the provider echoes back as ``+86…`` or ``86…``."""
    if number.startswith(CN_PREFIX):
        return number[3:]
    if len(number) == 13 and number.startswith("86"):
        return number[2:]
    return number


# -- guards ------------------------------------------------------------------------------------------------
def bad(what: str, provider_code: str = limits.KM_INVALID_PARAMETER) -> BadRequest:
    """The client-side twin of the provider's 400 for ``what``."""
    return BadRequest(f"refused before sending: {what}", provider_code=provider_code)


def check_count(
    items: Sized,
    limit: int,
    what: str,
    *,
    too_many: str = limits.KM_TOO_MANY_NUMBERS,
    empty: str = limits.KM_PHONE_LIST_EMPTY,
) -> None:
    """1 ≤ len(items) ≤ limit. Raises TooManyNumbers (``too_many`` code) or BadRequest (``empty`` code)."""
    count = len(items)
    if count > limit:
        raise TooManyNumbers(f"refused before sending: {count} {what} > {limit}", provider_code=too_many)
    if count == 0:
        raise bad(f"no {what}", empty)


def check_range(value: int, bounds: tuple[int, int], what: str) -> None:
    """lo ≤ value ≤ hi, else BadRequest."""
    low, high = bounds
    if not low <= value <= high:
        raise bad(f"{what}={value} outside {low}..{high}")


def check_len(
    value: str | None, high: int, what: str, *, low: int = 0, code: str = limits.KM_INVALID_PARAMETER
) -> None:
    """low ≤ len(value) ≤ high for an optional text field, else BadRequest."""
    if value is not None and not low <= len(value) <= high:
        raise bad(f"{what} length {len(value)} outside {low}..{high}", code)


def check_required(value: str, what: str, code: str = limits.KM_EMPTY_INPUT) -> None:
    """A required text field must not be blank."""
    if not value.strip():
        raise bad(f"{what} is empty", code)


def check_channel_number(value: str | None, what: str) -> None:
    """A channel number (sender) is 1–21 characters."""
    check_len(value, limits.CHANNEL_NUM_MAX, what, low=1, code=limits.KM_CHANNEL_NUMBER_LENGTH)


def check_tpl_id(tpl_id: str) -> None:
    """Template ids (smart and basic edition) are exactly 9 digits."""
    if len(tpl_id) != limits.TPL_ID_DIGITS or not _DIGITS.fullmatch(tpl_id):
        raise bad(f"tpl_id must be {limits.TPL_ID_DIGITS} digits")


def check_extend(extend: str | None) -> None:
    """``extend`` is echoed in status reports: at most 128 characters, no braces."""
    check_len(extend, limits.EXTEND_MAX, "extend")
    if extend and ("{" in extend or "}" in extend):
        raise bad("extend must not contain '{' or '}'")


def check_page(offset: int, limit: int) -> None:
    """List endpoints: 1 ≤ limit ≤ 100, offset ≥ 0, offset + limit ≤ 10000 (else the answer is empty)."""
    check_range(limit, (1, limits.PAGE_LIMIT_MAX), "limit")
    check_range(offset, (0, limits.LIST_WINDOW_MAX - limit), "offset")


def check_sms_params(values: Sequence[str], mobile: str) -> None:
    """Smart-send ``sms_params``: ≤19 values of 1–20 characters without ``.。'<>{}``."""
    if len(values) > limits.SMS_PARAMS_MAX:
        raise bad(
            f"{len(values)} sms_params for {mask(mobile)} > {limits.SMS_PARAMS_MAX}",
            limits.KM_SMS_PARAM_COUNT,
        )
    for value in values:
        if not 1 <= len(value) <= limits.SMS_PARAM_MAX_LEN or _FORBIDDEN.search(value):
            raise bad(
                f"an sms_param of {mask(mobile)} is empty, longer than {limits.SMS_PARAM_MAX_LEN} "
                f"or contains one of {''.join(sorted(limits.SMS_PARAM_FORBIDDEN))}"
            )


def smart_params_fit(mobiles: Sequence[str], rows: Sequence[Sequence[str]]) -> bool:
    """Whether every ``cust_flag`` and every row of ``sms_params`` of a smart send passes ``check_len`` and
    :func:`check_sms_params`: a few passes over the call's values instead of two checks per recipient,
    since this runs for every smart message sent. On False, check recipient by recipient to name one."""
    flags = list(map(len, mobiles))
    if flags and not (min(flags) >= 1 and max(flags) <= limits.CUST_FLAG_MAX):
        return False
    if rows and max(map(len, rows)) > limits.SMS_PARAMS_MAX:
        return False
    values = list(chain.from_iterable(rows))
    if not values:
        return True
    lengths = list(map(len, values))
    fit = min(lengths) >= 1 and max(lengths) <= limits.SMS_PARAM_MAX_LEN
    return fit and not _FORBIDDEN.search("\x00".join(values))  # NUL is allowed and in no forbidden set


def check_sms_batch(to: Sequence[str], template_params: Sequence[str], max_to: int) -> None:
    """One plain-SMS recipient list and its template parameters (KooMessage and Message&SMS alike)."""
    check_count(to, max_to, "SMS recipients")
    too_long = max(map(len, to)) > limits.SMS_TO_ITEM_MAX
    if too_long or min(map(len, to)) == 0 or not _SMS_TO.fullmatch("".join(to)):
        raise bad(f"SMS recipients must be digits or '+', at most {limits.SMS_TO_ITEM_MAX} characters")
    if len(template_params) > limits.TEMPLATE_PARAMS_MAX:
        raise bad(f"{len(template_params)} template params > {limits.TEMPLATE_PARAMS_MAX}")


def check_sms_template(template_id: str) -> None:
    """An SMS template id: 1–50 characters."""
    check_len(
        template_id, limits.SMS_TEMPLATE_ID_MAX, "template_id", low=1, code=limits.KM_TEMPLATE_NOT_FOUND
    )


def check_sms_contents(contents: Sequence[tuple[Sequence[str], str, Sequence[str]]], max_to: int) -> None:
    """Every ``(to, template_id, params)`` of a multi-template SMS send; ≤``max_to`` numbers in all."""
    if not contents:
        raise bad("no SMS contents", limits.KM_EMPTY_PARAMS)
    total = 0
    for to, template_id, params in contents:
        check_sms_template(template_id)
        check_sms_batch(to, params, max_to)
        total += len(to)
    if total > max_to:
        raise TooManyNumbers(
            f"refused before sending: {total} SMS recipients > {max_to}",
            provider_code=limits.KM_TOO_MANY_NUMBERS,
        )


# -- per-item results --------------------------------------------------------------------------------------
def sms_result(task_id: str, items: Iterable[Mapping[str, Any]], to_key: str, status_key: str) -> SendResult:
    """Per-number SMS statuses (``000000`` = accepted) → SendResult with 11-digit numbers.

    A number the provider both accepted and rejected (a duplicate copy in one call) counts as accepted: it
    received the message once.
    """
    accepted: list[str] = []
    failed: dict[str, str] = {}
    for item in items:
        number = national(str(item.get(to_key) or ""))
        status = str(item.get(status_key) or "")
        if status == limits.SMS_OK:
            accepted.append(number)
        else:
            failed[number] = status
    if failed and accepted:
        for number in accepted:
            failed.pop(number, None)
    return SendResult(task_id, tuple(accepted), failed)


def call_failed(task_id: str, numbers: Iterable[str], provider_code: str) -> SendResult:
    """A whole-call failure code without per-number detail: every number failed with that code."""
    return SendResult(task_id, (), dict.fromkeys(numbers, provider_code))


def sms_answer(
    task_id: str,
    items: Sequence[Mapping[str, Any]],
    numbers: Iterable[str],
    call_code: str,
    *,
    to_key: str,
    status_key: str,
) -> SendResult:
    """An SMS send answer: per-number statuses when present, else the call's code for every number.

    Raises Ambiguous when the call reports success but names no number: what was accepted is unknown.
    """
    if items:
        return sms_result(task_id, items, to_key, status_key)
    if call_code in CALL_OK:
        raise Ambiguous(f"SMS call {call_code} without per-number results", provider_code=call_code)
    return call_failed(task_id, map(national, numbers), call_code)


def log_result(logger: logging.Logger, what: str, ref: str, result: SendResult) -> None:
    """One DEBUG line per send with counts and a few masked failures."""
    if logger.isEnabledFor(logging.DEBUG):
        sample = ", ".join(f"{mask(n)}={code}" for n, code in islice(result.failed.items(), 5))
        logger.debug(
            "%s %s: task=%s accepted=%d failed=%d%s",
            what,
            ref,
            result.task_id,
            len(result.accepted),
            len(result.failed),
            f" ({sample})" if sample else "",
        )
