"""KooMessage client (AK/SK + X-Project-Id): capability checks, smart sends, short links, SMS, basic edition.

Every method checks the documented request limits first (raising TooManyNumbers / BadRequest with ``code=0``
before anything is sent), then raises what ``ProviderHttp.call`` raises.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from engine.provider import limits
from engine.provider.bodies import (
    link_body,
    resolve_answer,
    smart_answer,
    smart_body,
    sms_options,
    vms_answer,
    vms_body,
)
from engine.provider.http import ProviderHttp
from engine.provider.models import (
    CapabilityResult,
    LinkParam,
    ResolveResult,
    SendResult,
    SmartParam,
    SmsChannel,
    objects,
    text,
    texts,
)
from engine.provider.queries import (
    CAPABILITY,
    RESOLVE_TASKS,
    SEND_TASKS,
    SMS_DIFF_MESSAGES,
    SMS_MESSAGES,
    VMS_SEND_TASKS,
    KooMessageQueries,
)
from engine.provider.shaping import (
    check_count,
    check_sms_batch,
    check_sms_contents,
    check_sms_template,
    check_tpl_id,
    log_result,
    sms_answer,
)
from engine.provider.signer import Credentials
from engine.runtime.settings import Settings

log = logging.getLogger(__name__)


class KooMessageClient(KooMessageQueries):
    """One KooMessage account: capability checks, smart sends, short links, SMS and basic-edition sends,
    plus the reads of :class:`KooMessageQueries`."""

    @classmethod
    def from_settings(cls, http: ProviderHttp, settings: Settings) -> KooMessageClient:
        """The client of the configured account (``KOODISPATCH_AK/SK/PROJECT_ID``)."""
        creds = Credentials(settings.ak.get_secret_value(), settings.sk.get_secret_value())
        return cls(http, settings.provider.koomessage_url, creds, settings.project_id)

    # -- capability and smart sends --------------------------------------------------------------------------
    async def check_capability(self, mobiles: Sequence[str], tpl_id: str | None = None) -> CapabilityResult:
        """Which of ≤100 numbers can receive smart messages (of ``tpl_id``'s phone makers, if given)."""
        check_count(mobiles, limits.CAPABILITY_MAX_MOBILES, "mobiles")
        body: dict[str, object] = {"mobiles": list(mobiles)}
        if tpl_id is not None:
            check_tpl_id(tpl_id)
            body["tpl_id"] = tpl_id
        data = await self._call("POST", CAPABILITY, json=body)
        return CapabilityResult(texts(data, "supported_mobiles"), texts(data, "unsupported_mobiles"))

    async def create_aim_send_task(
        self,
        task_name: str,
        channel: SmsChannel,
        tpl_id: str,
        params: Sequence[SmartParam],
        expiration_days: int = 3,
    ) -> SendResult:
        """Send one smart message to each of ≤100 numbers (individual short links, resolvable once).

        Numbers listed in ``failed_short_chains`` are ``failed`` with their ``result_code``; the rest are
        ``accepted``. ``task_name`` is the client reference to reconcile by (``list_aim_send_tasks``).
        """
        body = smart_body(task_name, channel, tpl_id, params, expiration_days)
        result = smart_answer(await self._call("POST", SEND_TASKS, json=body), params)
        log_result(log, "smart send", task_name, result)
        return result

    # -- short links -----------------------------------------------------------------------------------------
    async def create_resolve_task(
        self,
        tpl_id: str,
        sms_signs: Sequence[str],
        params: Sequence[LinkParam],
        *,
        aim_code_type: str = "individual",
        resolving_times: int = 1,
        expiration_days: int = 7,
        generation_type: str | None = None,
        domain: str | None = None,
    ) -> ResolveResult:
        """Generate short links without sending (≤100 individual, or 1 group link resolvable ≥2 times)."""
        body = link_body(
            tpl_id,
            sms_signs,
            params,
            aim_code_type,
            resolving_times,
            expiration_days,
            generation_type,
            domain,
        )
        return resolve_answer(await self._call("POST", RESOLVE_TASKS, json=body))

    # -- KooMessage plain SMS --------------------------------------------------------------------------------
    async def send_sms(
        self,
        template_id: str,
        to: Sequence[str],
        template_params: Sequence[str],
        *,
        channel_num: str | None = None,
        extend: str | None = None,
        task_name: str | None = None,
    ) -> SendResult:
        """One SMS template to ≤500 numbers; per-number ``send_status`` decides accepted / failed."""
        check_sms_template(template_id)
        check_sms_batch(to, template_params, limits.KM_SMS_MAX_TO)
        body = sms_options(channel_num, extend, task_name)
        body.update(template_id=template_id, to=list(to), template_params=list(template_params))
        return await self._send_sms(SMS_MESSAGES, body, to)

    async def send_diff_sms(
        self,
        contents: Sequence[tuple[Sequence[str], str, Sequence[str]]],
        *,
        channel_num: str,
        extend: str | None = None,
        task_name: str | None = None,
    ) -> SendResult:
        """Several ``(to, template_id, params)`` SMS in one call, ≤500 numbers in all."""
        check_sms_contents(contents, limits.KM_SMS_MAX_TO)
        body = sms_options(channel_num, extend, task_name)
        body["sms_content"] = [
            {"to": list(to), "template_id": template_id, "template_params": list(params)}
            for to, template_id, params in contents
        ]
        return await self._send_sms(SMS_DIFF_MESSAGES, body, [n for to, _, _ in contents for n in to])

    async def _send_sms(self, path: str, body: dict[str, object], numbers: Sequence[str]) -> SendResult:
        data = await self._call("POST", path, json=body)
        result = sms_answer(
            text(data, "task_id"),
            objects(data, "result"),
            numbers,
            text(data, "status"),
            to_key="to",
            status_key="send_status",
        )
        log_result(log, "KooMessage SMS", str(body.get("task_name") or body.get("extend") or ""), result)
        return result

    # -- basic edition (video SMS) ---------------------------------------------------------------------------
    async def create_vms_send_task(
        self,
        task_name: str,
        tpl_id: str,
        *,
        mobiles: Sequence[str] | None = None,
        params: Sequence[str] = (),
        individual: Sequence[tuple[Sequence[str], Sequence[str]]] | None = None,
        expiration_hours: int = 24,
        exdata: str | None = None,
    ) -> SendResult:
        """A basic-edition send to ≤5000 numbers: ``mobiles`` with shared positional ``params`` (#p_1#…), or
        ``individual`` ``(mobiles, params)`` groups — exactly one of the two.

        The provider answers for the whole call: ``data.ret_code`` OK → every number accepted, else every
        number failed with that code.
        """
        body, numbers = vms_body(task_name, tpl_id, mobiles, params, individual, expiration_hours, exdata)
        result = vms_answer(await self._call("POST", VMS_SEND_TASKS, json=body), numbers)
        log_result(log, "basic send", task_name, result)
        return result
