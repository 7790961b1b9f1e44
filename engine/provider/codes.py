"""Provider codes as data: the error class of a rejected call, the outcome reason of a failed number.

Code above the provider layer decides from these tables and the error classes, never from message text.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from engine.errors import (
    AuthFailed,
    BadRequest,
    ProviderError,
    ProviderUnavailable,
    Throttled,
    TooManyNumbers,
)
from engine.provider import limits

# -- whole calls -------------------------------------------------------------------------------------------
TASK_SUCCESS: Final = "Success"  # task_state / status of an accepted KooMessage submission
TASK_FAILED: Final = "Failed"
# codes that mean "the call was accepted": KooMessage status, Message&SMS code, basic-edition ret_code
CALL_OK: Final = frozenset({TASK_SUCCESS, limits.SMS_OK, "0"})

CALL_ERRORS: Final[dict[str, type[ProviderError]]] = {
    limits.KM_TOO_MANY_NUMBERS: TooManyNumbers,
    limits.KM_TOO_MANY_LINKS: TooManyNumbers,
    limits.KM_TOO_MANY_SHORT_CODES: TooManyNumbers,
    limits.KM_FLOW_CONTROL: Throttled,
    limits.APIGW_THROTTLED: Throttled,
    limits.APIGW_AUTH: AuthFailed,
}


def call_error(status: int, provider_code: str) -> type[ProviderError]:
    """The error class of a non-2xx answer.

    5xx → ProviderUnavailable whatever the body says; for 4xx a known provider code wins over the status
    (e.g. 400 + KM.90016301 → TooManyNumbers); then 429 → Throttled, 401/403 → AuthFailed, else BadRequest.
    """
    if status >= 500:
        return ProviderUnavailable
    known = CALL_ERRORS.get(provider_code)
    if known is not None:
        return known
    if status == 429:
        return Throttled
    if status in (401, 403):
        return AuthFailed
    return BadRequest


# -- single numbers ----------------------------------------------------------------------------------------
class Reason(StrEnum):
    """Why one number of an accepted call was not taken; the dispatcher's outcome for that number."""

    INVALID_NUMBER = "invalid_number"  # the number itself is unusable: permanent
    DUPLICATE = "duplicate"  # the same number twice in one call: the other copy decides
    LIMITED = "limited"  # over a count or frequency cap: a later call may succeed
    TEMPLATE = "template"  # template inactive or of the wrong type: fix the campaign
    PARAMS = "params"  # template variables rejected for this number
    UNSUPPORTED = "unsupported"  # cannot receive smart messages: fall back
    REJECTED = "rejected"  # any other code


RETRYABLE: Final = frozenset({Reason.LIMITED})
FALLBACK: Final = frozenset({Reason.UNSUPPORTED})

REASONS: Final[dict[str, Reason]] = {
    # Message&SMS / KooMessage SMS per-number statuses (SmsDetailResponse.send_status, SmsID.status)
    limits.SMS_TOO_MANY: Reason.LIMITED,  # E200015 待发送短信数量太大
    limits.SMS_INVALID_NUMBER: Reason.INVALID_NUMBER,  # E200027
    limits.SMS_VAR_CHECK: Reason.PARAMS,  # E200028 模板变量校验失败
    "E200029": Reason.TEMPLATE,  # 模板类型校验失败
    "E200030": Reason.TEMPLATE,  # 模板未激活
    "E200033": Reason.TEMPLATE,  # 模板类型不正确
    limits.SMS_DUPLICATE: Reason.DUPLICATE,  # E200041 同一短信内容接收号码重复
    # smart-send failed_short_chains[].result_code
    limits.KM_TEMPLATE_NOT_FOUND: Reason.TEMPLATE,
    limits.KM_SMS_PARAM_COUNT: Reason.PARAMS,
    limits.KM_SMS_TEMPLATE_NO_LINK: Reason.TEMPLATE,
    limits.KM_INVALID_MOBILE: Reason.INVALID_NUMBER,
}


def reason(provider_code: str) -> Reason:
    """The outcome reason of one failed number; unknown codes are ``REJECTED``."""
    return REASONS.get(provider_code, Reason.REJECTED)
