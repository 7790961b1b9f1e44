"""The provider's per-request limits, ranges and codes, as the simulator enforces and answers them."""

from __future__ import annotations

from typing import Final

# Written from the provider contract (../shared/provider-contract.md, cited as §n) and its seeds, never from
# the client's engine.provider.limits: the simulator is the client's independent judge, so a wrong value on
# either side fails tests/simulator/test_contract.py instead of being agreed on by both. "ours" marks a value
# the simulator needs where the contract names none.

# -- capability check: POST /v1/aim/mobile-capabilities/check (§3.2) ----------------------------------------
CAPABILITY_MAX_MOBILES: Final = 100  # §3.2 mobiles ≤100 per request
CAPABILITY_MOBILE_MAX: Final = 64  # ours: §3.2 gives no length; fits a SHA-1 digest (40) and 0086-numbers

# -- resolve tasks: POST /v1/aim/resolve-tasks (§3.1) -------------------------------------------------------
TPL_ID_DIGITS: Final = 9  # §3.1 tpl_id is 9 digits (also §3.2, §3.4)
MAX_SMS_SIGNS: Final = 5  # §3.1 sms_signs ≤5
RESOLVE_MAX_PARAMS: Final = 100  # §3.1 ≤100 links per request (group: at most 1)
RESOLVING_TIMES: Final = (1, 10_000_000)  # §3.1 / §3.4 resolving_times, resolve_times 1–10,000,000
GROUP_RESOLVING_TIMES: Final = (2, 10_000_000)  # §3.1 group links must allow ≥2 resolves
GROUP_EXPIRATION_DAYS: Final = (1, 180)  # §3.1 expiration_time of group links, days
INDIVIDUAL_EXPIRATION_DAYS: Final = (1, 7)  # §3.1 individual links and §3.4 send tasks, days
CUST_FLAG_MAX: Final = 64  # §3.1 / §3.4 cust_flag ≤64 characters
CUSTOM_URL_MAX_RESOLVE: Final = 256  # §3.1 custom_url ≤256 on resolve tasks
CUSTOM_SHORT_CODE_LEN: Final = (3, 10)  # §3.1 custom_short_code 3–10 letters or digits
DOMAIN_MAX: Final = 100  # §3.1 domain maxLength 100

# -- smart send tasks: POST /v1/aim/send-tasks (§3.4) -------------------------------------------------------
SMART_SEND_MAX_PARAMS: Final = 100  # §3.4 resolve_task.params ≤100
CUSTOM_URL_MAX_SEND: Final = 2048  # §3.4 custom_url ≤2048 on send tasks
SMS_PARAMS_MAX: Final = 19  # §3.4 sms_params ≤19, without the short-link variable
SMS_PARAM_MAX_LEN: Final = 20  # §3.4 each sms_params value 1–20 characters
SMS_PARAM_FORBIDDEN: Final = frozenset(".。'<>{}")  # §3.4 characters no sms_params value may contain
SMART_RATE_PER_SECOND: Final = 1000  # §3.4 / §6 smart messages ≤1000 per second

# -- plain SMS: POST /v1/aim/sms/messages|diff-messages (§3.5), /sms/batchSend[Diff]Sms/v1 (§7) -----------
KM_SMS_MAX_TO: Final = 500  # §3.5 `to` ≤500 per call (diff-messages: per call in total)
SMSAPI_MAX_TO: Final = 500  # §7 `to` ≤500 numbers; more fails the whole request
SMS_TO_ITEM_MAX: Final = 21  # §3.5 / §7 each number ≤21 characters; ours for basic-edition mobiles too
TEMPLATE_PARAMS_MAX: Final = 20  # §3.5 template_params ≤20 (templateParas alike)
SMS_TEMPLATE_ID_MAX: Final = 50  # §3.5 template_id 1–50 characters
CHANNEL_NUM_MAX: Final = 21  # §3.5 channel_num 1–21; §6 KM.00001098
TASK_NAME_MAX_SMS: Final = 30  # §3.5 task_name ≤30
EXTEND_MAX: Final = 128  # §3.5 / §7 extend ≤128, no braces

# -- basic edition (video SMS): POST /v1/aim-basic/send-tasks (§3.6) ----------------------------------------
BASIC_MAX_MOBILES: Final = 5000  # §3.6 mobiles (or individual_params[].mobiles) ≤5000
BASIC_MAX_DYNC_PARAMS: Final = 100  # §3.6 dync_params ≤100 items
PARAM_NAME_MAX: Final = 64  # §3.6 param_name ≤64
CONTENT_DETAIL_MAX: Final = 256  # §3.6 content_detail ≤256
EXDATA_MAX: Final = 256  # §3.6 exdata ≤256
VMS_EXPIRATION_HOURS: Final = (1, 72)  # §3.6 expiration_time 1–72 hours
VMS_EXPIRATION_DEFAULT_HOURS: Final = 24  # seeds/001_* 缺省值:24 (§3.6 names no default)

# -- lists and reports (§2, §3.3, §3.7) ----------------------------------------------------------------------
PAGE_LIMIT_MAX: Final = 100  # §3.7 limit 1–100
PAGE_LIMIT_DEFAULT: Final = 20  # §3.7 limit defaults to 20
LIST_WINDOW_MAX: Final = 10_000  # §3.3 offset + limit ≤10000
TEMPLATE_REPORT_MAX_IDS: Final = 100  # §2 template-reports tpl_ids ≤100
TEMPLATE_REPORT_MAX_DAYS: Final = 90  # §2 template-reports window ≤90 days

# -- callbacks (§3.8) ---------------------------------------------------------------------------------------
CALLBACK_URL_MAX: Final = 1000  # §3.8 callback_url ≤1000; ours for §7 statusCallback, which has no limit
CALLBACK_REMARK_MAX: Final = 256  # ours: §2 names the basic-edition callback remark without a limit

# -- short links (§2, §8.7) ---------------------------------------------------------------------------------
LINK_DOMAIN: Final = "km2g.cn"  # §2 / §8.7 aim_url = km2g.cn/PDiWqc when a task names no domain
SHORT_CODE_LEN: Final = 6  # §8.7 <domain>/<6-char code>

# -- call errors: HTTP 400 with {"error_code", "error_msg"} (§6, §8.4) ---------------------------------------
KM_TOO_MANY_NUMBERS: Final = "KM.90016301"  # §6 (seeds/001_*) 手机号码数超过最大值
KM_TOO_MANY_LINKS: Final = "KM.90016403"  # §6 (seeds/001_*) 请求短链数量超过限制
KM_EMPTY_INPUT: Final = "KM.90016414"  # §6 入参为空
KM_EMPTY_PARAMS: Final = "KM.90016415"  # §6 参数对象集合为空
KM_BAD_SIGN_COUNT: Final = "KM.90016417"  # §6 签名个数不合法
KM_BAD_AIM_CODE_TYPE: Final = "KM.90016418"  # §6 智能短信编码类型不合法
KM_SIGN_EMPTY: Final = "KM.00001075"  # §6 短信签名为空
KM_TEMPLATE_NOT_FOUND: Final = "KM.00001082"  # §6 模板ID不存在
KM_PHONE_LIST_EMPTY: Final = "KM.00001083"  # §6 手机号列为空
KM_CHANNEL_NUMBER_LENGTH: Final = "KM.00001098"  # §6 channel number length must be 1–21
KM_SMS_PARAM_COUNT: Final = "KM.00001376"  # §6 SMS template param count mismatch (sms_params)
KM_INVALID_PARAMETER: Final = "KM.00000400"  # ours: §6 names no code for other failed field checks
KM_INVALID_MOBILE: Final = "KM.00001084"  # ours: §3.4 failed_short_chains result_code, cust_flag no mobile
# documented in §6 but never answered by the simulator; stated so the client's copies are judged too
KM_TOO_MANY_SHORT_CODES: Final = "KM.90016416"  # §6 请求短码数量超过限制
KM_SMS_TEMPLATE_NO_LINK: Final = "KM.00001377"  # §6 SMS template lacks the short-link variable

# -- gateway, throttling and outages (§4.1, §6, §8.3, §8.10) -----------------------------------------------
APIGW_AUTH: Final = "APIGW.0301"  # §4.1 / §8.3 HTTP 401, signature or project check failed
APIGW_THROTTLED: Final = "APIGW.0308"  # ours: §6 says APIGW codes cover throttling but names none; HTTP 429
APIGW_NOT_FOUND: Final = "APIGW.0101"  # ours: HTTP 404/405 of an unknown path; the contract names none
KM_FLOW_CONTROL: Final = "KM.00000429"  # ours: HTTP 429; §6 documents no 429 contract for KooMessage
KM_INTERNAL: Final = "KM.00000500"  # §4.1 HTTP 500 body of the verified capture
KM_UNAVAILABLE: Final = "KM.00000503"  # ours: HTTP 503 (simulated outage); the contract names none
KM_GATEWAY_TIMEOUT: Final = "KM.00000504"  # ours: HTTP 504 (simulated timeout); the contract names none

# -- answers of accepted calls (§3.1, §3.4, §3.5, §3.6, §7) -------------------------------------------------
RESULT_OK: Final = "0"  # §3.1 per-link result_code of a generated link
BASIC_RET_OK: Final = "0"  # ours: §3.6 names data.ret_code without values; "0" like result_code
TASK_SUCCESS: Final = "Success"  # §3.4 task_state / §3.5 status: submitted (not delivered)
TASK_FAILED: Final = "Failed"  # §3.4 / §3.5 nothing of the call was submitted
SMS_OK: Final = "000000"  # §3.5 send_status / §7 code and status of an accepted number
SMS_DUPLICATE: Final = "E200041"  # §3.5 the same number twice in one call
SMS_INVALID_NUMBER: Final = "E200027"  # ours: §7 says E2000xx; the number is no mainland mobile
# documented in §3.5 but never answered by the simulator; stated so the client's copies are judged too
SMS_TOO_MANY: Final = "E200015"  # §3.5 too many messages
SMS_VAR_CHECK: Final = "E200028"  # §3.5 template variable check failed
