"""A VOS instance as the pollers see it: the api mirrors each `vos_instances` row into the KV
bucket `vosync_instances` (key = id, value = this record as JSON); pollers watch the bucket."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class InstanceRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: int
    name: str
    base_url: str
    enabled: bool = True
    timeout_s: float | None = Field(None, gt=0, description="VOS call timeout; default VOSYNC_VOS_TIMEOUT_S")

    def to_kv(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_kv(cls, value: bytes) -> InstanceRecord:
        return cls.model_validate_json(value)
