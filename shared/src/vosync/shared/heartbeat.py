"""A poller's heartbeat in the KV bucket `vosync_leases` (key `poller.<id>`, see vosync.shared.bus).

It says the poller is alive and which instances it is pinned to (the lease balancing reads that),
and what the poller sees of each VOS instance it holds the lease of: whether its calls fail, since
when, and whether it is in transport-failure backoff (no calls go to VOS). Only the lease holder
polls an instance on schedule, so with several pollers exactly one heartbeat speaks for each
instance, and it goes away with the bucket's TTL when that poller dies.

Written by the pollers, read by the api (`GET /api/v1/status`). Every field but `poller_id` is
optional, so a heartbeat from an older poller still reads.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class VosView(BaseModel):
    """One instance as its lease holder sees it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    backing_off: bool = False
    # Unix time of the first failed scheduled call of the current failure run; None while calls succeed.
    failing_since: float | None = None
    # Consecutive transport failures (timeouts, refused connections) behind the backoff.
    transport_failures: int = Field(0, ge=0)


class PollerHeartbeat(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    poller_id: str
    pinned: list[int] | None = None
    # Keyed by instance id (JSON object keys are strings; pydantic turns them back into ints).
    vos: dict[int, VosView] = Field(default_factory=dict)

    @classmethod
    def parse(cls, key_suffix: str, value: bytes | None) -> PollerHeartbeat:
        """The heartbeat; an unreadable one still says a poller named by its key is alive."""
        try:
            return cls.model_validate_json(value or b"")
        except ValidationError:
            return cls(poller_id=key_suffix)


def vos_views_json(views: dict[int, VosView]) -> dict[str, object]:
    """The `vos` field as the poller writes it into its heartbeat JSON."""
    return {str(i): view.model_dump() for i, view in sorted(views.items())}
