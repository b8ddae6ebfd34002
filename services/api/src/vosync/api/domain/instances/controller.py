"""GET, POST /instances; GET, PATCH, DELETE /instances/{id}."""

from __future__ import annotations

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from vosync.api.domain.instances.schemas import Instance, InstanceCreate, InstanceList, InstancePatch
from vosync.api.domain.instances.service import InstanceService
from vosync.api.lib.auth import ADMIN, READ
from vosync.api.lib.openapi import error_responses


class InstanceController(Controller):
    path = "/instances"
    tags = ["instances"]  # noqa: RUF012

    @get(
        "/",
        opt=READ,
        summary="VOS instances",
        operation_id="listInstances",
        responses=error_responses(401),
    )
    async def list_instances(self, instances: NamedDependency[InstanceService]) -> InstanceList:
        return await instances.list()

    @post(
        "/",
        opt=ADMIN,
        status_code=HTTP_201_CREATED,
        summary="Add a VOS instance (admin)",
        description="Mirrored to the KV bucket vosync_instances; pollers pick it up from there.",
        operation_id="createInstance",
        responses=error_responses(400, 401, 403, 409),
    )
    async def create_instance(
        self, instances: NamedDependency[InstanceService], data: JSONBody[InstanceCreate]
    ) -> Instance:
        return await instances.create(data)

    @get(
        "/{instance_id:int}",
        opt=READ,
        summary="One VOS instance",
        operation_id="getInstance",
        responses=error_responses(401, 404),
    )
    async def get_instance(
        self, instances: NamedDependency[InstanceService], instance_id: FromPath[int]
    ) -> Instance:
        return await instances.get(instance_id)

    @patch(
        "/{instance_id:int}",
        opt=ADMIN,
        summary="Change a VOS instance (admin)",
        description="Only the fields present change; null clears description or timeout_s.",
        operation_id="updateInstance",
        responses=error_responses(400, 401, 403, 404, 409),
    )
    async def update_instance(
        self,
        instances: NamedDependency[InstanceService],
        instance_id: FromPath[int],
        data: JSONBody[InstancePatch],
    ) -> Instance:
        return await instances.patch(instance_id, data)

    @delete(
        "/{instance_id:int}",
        opt=ADMIN,
        status_code=HTTP_204_NO_CONTENT,
        summary="Remove a VOS instance and its cached data and gateways (admin)",
        operation_id="deleteInstance",
        responses=error_responses(401, 403, 404),
    )
    async def delete_instance(
        self, instances: NamedDependency[InstanceService], instance_id: FromPath[int]
    ) -> None:
        await instances.delete(instance_id)
