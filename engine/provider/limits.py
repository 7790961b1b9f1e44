"""Per-request limits and error codes of the provider contract, as our client guards them.

The client never builds a request the provider would reject. The simulator keeps its own statement of the
contract (``engine/simulator/contract.py``), written apart from this one; ``tests/simulator/test_contract.py``
checks the two agree value by value, so a wrong value on either side fails a test.
"""

from __future__ import annotations

from typing import Final

# -- numbers / items per request -------------------------------------------------------------------------
CAPABILITY_MAX_MOBILES: Final = 100  # POST /v1/aim/mobile-capabilities/check
SMART_SEND_MAX_PARAMS: Final = 100  # POST /v1/aim/send-tasks resolve_task.params
RESOLVE_MAX_PARAMS: Final = 100  # POST /v1/aim/resolve-tasks params (group: 1)
KM_SMS_MAX_TO: Final = 500  # POST /v1/aim/sms/messages `to`
SMSAPI_MAX_TO: Final = 500  # POST /sms/batchSendSms/v1 `to`
BASIC_MAX_MOBILES: Final = 5000  # POST /v1/aim-basic/send-tasks mobiles / individual_params[].mobiles
BASIC_MAX_DYNC_PARAMS: Final = 100

# -- field sizes -----------------------------------------------------------------------------------------
TPL_ID_DIGITS: Final = 9
MAX_SMS_SIGNS: Final = 5
CUST_FLAG_MAX: Final = 64
CUSTOM_URL_MAX_RESOLVE: Final = 256
CUSTOM_URL_MAX_SEND: Final = 2048
SMS_PARAMS_MAX: Final = 19  # smart send sms_params, excluding the short-link variable
SMS_PARAM_MAX_LEN: Final = 20
TEMPLATE_PARAMS_MAX: Final = 20  # plain SMS template_params / templateParas
SMS_TO_ITEM_MAX: Final = 21
EXTEND_MAX: Final = 128
EXDATA_MAX: Final = 256
TASK_NAME_MAX_SMS: Final = 30
CHANNEL_NUM_MAX: Final = 21
CONTENT_DETAIL_MAX: Final = 256
PARAM_NAME_MAX: Final = 64
SMS_PARAM_FORBIDDEN: Final = frozenset(".。'<>{}")

# -- ranges ----------------------------------------------------------------------------------------------
GROUP_EXPIRATION_DAYS: Final = (1, 180)
INDIVIDUAL_EXPIRATION_DAYS: Final = (1, 7)
VMS_EXPIRATION_HOURS: Final = (1, 72)
RESOLVING_TIMES: Final = (1, 10_000_000)
LIST_WINDOW_MAX: Final = 10_000  # offset + limit on list endpoints
PAGE_LIMIT_MAX: Final = 100

# -- provider rates (messages per second) ----------------------------------------------------------------
SMART_RATE_PER_SECOND: Final = 1000

# -- KM error codes (HTTP 400 unless noted) --------------------------------------------------------------
KM_TOO_MANY_NUMBERS: Final = "KM.90016301"  # 手机号码数超过最大值
KM_TOO_MANY_LINKS: Final = "KM.90016403"  # 请求短链数量超过限制
KM_EMPTY_INPUT: Final = "KM.90016414"  # 入参为空
KM_EMPTY_PARAMS: Final = "KM.90016415"  # 参数对象集合为空
KM_TOO_MANY_SHORT_CODES: Final = "KM.90016416"  # 请求短码数量超过限制
KM_BAD_SIGN_COUNT: Final = "KM.90016417"  # 签名个数不合法
KM_BAD_AIM_CODE_TYPE: Final = "KM.90016418"  # 智能短信编码类型不合法
KM_SIGN_EMPTY: Final = "KM.00001075"
KM_SIGN_LENGTH: Final = "KM.00001076"
KM_TEMPLATE_NOT_FOUND: Final = "KM.00001082"
KM_PHONE_LIST_EMPTY: Final = "KM.00001083"
KM_CHANNEL_NUMBER_LENGTH: Final = "KM.00001098"
KM_SMS_PARAM_COUNT: Final = "KM.00001376"
KM_SMS_TEMPLATE_NO_LINK: Final = "KM.00001377"
KM_INVALID_PARAMETER: Final = "KM.00000400"  # generic parameter check failure (simulator's catch-all)
KM_INTERNAL: Final = "KM.00000500"
KM_FLOW_CONTROL: Final = "KM.00000429"  # HTTP 429; the contract documents no KM code for it
APIGW_AUTH: Final = "APIGW.0301"  # 401 incorrect IAM authentication information
APIGW_THROTTLED: Final = "APIGW.0308"  # 429 the throttling threshold has been reached

# -- per-number SMS send statuses ------------------------------------------------------------------------
SMS_OK: Final = "000000"
SMS_TOO_MANY: Final = "E200015"
SMS_VAR_CHECK: Final = "E200028"
SMS_DUPLICATE: Final = "E200041"
SMS_INVALID_NUMBER: Final = "E200027"  # number format check failed (Message&SMS API)

# -- further limits and codes of the contract (§8.5) ------------------------------------------------------
SMS_TEMPLATE_ID_MAX: Final = 50  # KooMessage SMS template_id 1–50 chars
CALLBACK_URL_MAX: Final = 1000
CUSTOM_SHORT_CODE_LEN: Final = (3, 10)
TEMPLATE_REPORT_MAX_IDS: Final = 100
TEMPLATE_REPORT_MAX_DAYS: Final = 90
KM_UNAVAILABLE: Final = "KM.00000503"  # HTTP 503; the contract documents no KM code for it
KM_GATEWAY_TIMEOUT: Final = "KM.00000504"  # HTTP 504; ditto
APIGW_NOT_FOUND: Final = "APIGW.0101"  # 404 API not found
# per-item result_code of a smart send whose cust_flag is not a mainland mobile (the contract names none)
KM_INVALID_MOBILE: Final = "KM.00001084"

# -- short links ----------------------------------------------------------------------------------------
LINK_DOMAIN: Final = "km2g.cn"  # the public short-link domain when a task names none
SHORT_CODE_LEN: Final = 6  # aim_url = "<domain>/<code>", e.g. km2g.cn/PDiWqc
SMS_LINK_VARIABLE: Final = "NEWTEXT"  # SMS template variable type that carries the short link (解析标识)

# -- campaign spec fields (console and API limits not covered above) --------------------------------------
SIGNATURE_LEN: Final = (2, 16)  # SMS signature, without the 【】 the carrier adds
