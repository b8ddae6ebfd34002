"""Phones of an instance (list with filters, one phone), its fee rate groups and its suites."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter

from vosync.api.domain.phones.schemas import FeeRateGroupList, PhoneDetail, PhoneList, SuiteList
from vosync.api.domain.phones.service import PhoneService
from vosync.api.lib.auth import READ, sees_secrets
from vosync.api.lib.directory import InstanceInfo
from vosync.api.lib.openapi import error_responses
from vosync.api.lib.validate import MAX_DB_INT, check_text
from vosync.shared.db.limits import E164_MAX


class PhoneController(Controller):
    path = "/instances/{instance_id:int}"
    tags = ["phones"]  # noqa: RUF012
    opt = READ

    @get(
        "/phones",
        summary="Phones of an instance",
        description=(
            "From the phones table: every number GetAllPhoneOnline has listed; online = listed by the"
            " newest listing, a phone that dropped out stays, offline, with `last_seen_at`. Details"
            " (remote_ip, concurrent_calls, register_time, product_id) come from GetPhoneOnline."
            " `total` counts the rows matching the filters, `counts` the whole instance."
        ),
        operation_id="listPhones",
        responses=error_responses(400, 401, 404),
    )
    async def list_phones(
        self,
        phones: NamedDependency[PhoneService],
        instance: NamedDependency[InstanceInfo],
        online: Annotated[
            bool | None, QueryParameter(description="true: online only; false: offline only")
        ] = None,
        q: Annotated[
            str | None, QueryParameter(max_length=200, description="substring of the number or the IP")
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        offset: Annotated[int, QueryParameter(ge=0, le=MAX_DB_INT)] = 0,
    ) -> PhoneList:
        if q is not None:
            check_text(q, "q")
        return await phones.list(instance, online=online, q=q or None, limit=limit, offset=offset)

    @get(
        "/phones/{e164:str}",
        summary="One phone",
        description="With its details and the GetPhoneOnline item they come from (`raw_data`; secrets"
        " masked unless admin).",
        operation_id="getPhone",
        responses=error_responses(400, 401, 404),
    )
    async def get_phone(
        self,
        request: Request[Any, Any, Any],
        phones: NamedDependency[PhoneService],
        instance: NamedDependency[InstanceInfo],
        e164: FromPath[str],
    ) -> PhoneDetail:
        check_text(e164, "e164")
        unmasked = sees_secrets(request)
        # A number longer than the column was never stored: unknown, without asking the database.
        detail = await phones.get(instance, e164, unmasked=unmasked) if len(e164) <= E164_MAX else None
        if detail is None:
            raise NotFoundException(detail=f"no phone {e164!r} on instance {instance.id}")
        return detail

    @get(
        "/fee-rate-groups",
        summary="Fee rate groups (费率组) of an instance",
        description="From the fee_rate_groups table, as the newest GetFeeRateGroup listed them.",
        operation_id="listFeeRateGroups",
        responses=error_responses(401, 404),
    )
    async def fee_rate_groups(
        self,
        phones: NamedDependency[PhoneService],
        instance: NamedDependency[InstanceInfo],
    ) -> FeeRateGroupList:
        return await phones.fee_rate_groups(instance)

    @get(
        "/suites",
        summary="Suites (套餐) of an instance",
        description="From the suites table, as the newest GetSuite listed them (`raw_data`: secrets"
        " masked unless admin).",
        operation_id="listSuites",
        responses=error_responses(401, 404),
    )
    async def suites(
        self,
        request: Request[Any, Any, Any],
        phones: NamedDependency[PhoneService],
        instance: NamedDependency[InstanceInfo],
    ) -> SuiteList:
        return await phones.suites(instance, unmasked=sees_secrets(request))
