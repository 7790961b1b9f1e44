"""Message&SMS send API client (app key / app secret, no project id): batchSendSms and batchSendDiffSms.

Numbers go out as ``+86…`` and come back 11-digit. ``batchSendSms`` is form-encoded, so ``sign()`` declares
it UNSIGNED-PAYLOAD; ``batchSendDiffSms`` is JSON. The API has no task id: ``SendResult.task_id`` is empty.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Final

import orjson

from engine.provider import limits
from engine.provider.callbacks import status_callback
from engine.provider.http import ProviderHttp, endpoint
from engine.provider.models import SendResult, objects, text
from engine.provider.shaping import (
    check_channel_number,
    check_extend,
    check_sms_batch,
    check_sms_contents,
    check_sms_template,
    international,
    log_result,
    sms_answer,
)
from engine.provider.signer import Credentials
from engine.runtime.settings import Settings

log = logging.getLogger(__name__)

BATCH_SEND: Final = "/sms/batchSendSms/v1"
BATCH_SEND_DIFF: Final = "/sms/batchSendDiffSms/v1"


class SmsApiClient:
    """One Message&SMS application over a shared ProviderHttp."""

    def __init__(
        self, http: ProviderHttp, base_url: str, creds: Credentials, status_callback: str | None = None
    ) -> None:
        endpoint(base_url)  # a malformed URL is a ConfigError now, not on the first send
        self._http = http
        self._base_url = base_url
        self._creds = creds
        self._status_callback = status_callback  # default statusCallback: our receipts service, if any

    @classmethod
    def from_settings(cls, http: ProviderHttp, settings: Settings) -> SmsApiClient:
        """The client of the configured application (``KOODISPATCH_SMS_APP_KEY/SECRET``); status reports go
        to the receipts service when ``receipts.public_url`` and the receipts token are set."""
        creds = Credentials(
            settings.sms_app_key.get_secret_value(), settings.sms_app_secret.get_secret_value()
        )
        return cls(http, settings.provider.smsapi_url, creds, status_callback(settings))

    async def batch_send_sms(
        self,
        sender: str,
        to: Sequence[str],
        template_id: str,
        template_paras: Sequence[str],
        *,
        status_callback: str | None = None,
        extend: str | None = None,
        signature: str | None = None,
    ) -> SendResult:
        """One template to ≤500 numbers from channel number ``sender``; per-number ``status`` decides.

        Raises TooManyNumbers / BadRequest before sending when a limit is broken, else what
        ``ProviderHttp.call`` raises.
        """
        numbers = [international(number) for number in to]
        check_sms_template(template_id)
        check_sms_batch(numbers, template_paras, limits.SMSAPI_MAX_TO)
        form = _options(sender, status_callback or self._status_callback, extend)
        form.update(
            to=",".join(numbers),
            templateId=template_id,
            templateParas=orjson.dumps(list(template_paras)).decode(),
        )
        if signature is not None:
            form["signature"] = signature
        return await self._send(BATCH_SEND, numbers, extend, form=form)

    async def batch_send_diff_sms(
        self,
        sender: str,
        contents: Sequence[tuple[Sequence[str], str, Sequence[str]]],
        *,
        status_callback: str | None = None,
        extend: str | None = None,
        signature: str | None = None,
    ) -> SendResult:
        """Several ``(to, template_id, params)`` SMS in one call, ≤500 numbers in all."""
        shaped = [
            ([international(n) for n in to], template_id, params) for to, template_id, params in contents
        ]
        check_sms_contents(shaped, limits.SMSAPI_MAX_TO)
        body: dict[str, object] = dict(_options(sender, status_callback or self._status_callback, extend))
        body["smsContent"] = [
            {"to": to, "templateId": template_id, "templateParas": list(params)}
            | ({"signature": signature} if signature is not None else {})
            for to, template_id, params in shaped
        ]
        return await self._send(BATCH_SEND_DIFF, [n for to, _, _ in shaped for n in to], extend, json=body)

    async def _send(
        self,
        path: str,
        numbers: Sequence[str],
        ref: str | None,
        *,
        form: Mapping[str, str] | None = None,
        json: object = None,
    ) -> SendResult:
        data = await self._http.call(self._creds, self._base_url, "POST", path, form=form, json=json)
        result = sms_answer(
            "", objects(data, "result"), numbers, text(data, "code"), to_key="originTo", status_key="status"
        )
        log_result(log, "Message&SMS send", ref or "", result)
        return result


def _options(sender: str, status_callback: str | None, extend: str | None) -> dict[str, str]:
    check_channel_number(sender, "from")
    check_extend(extend)
    options = {"from": sender, "statusCallback": status_callback, "extend": extend}
    return {key: value for key, value in options.items() if value is not None}
