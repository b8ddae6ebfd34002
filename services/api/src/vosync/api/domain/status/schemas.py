"""GET /api/v1/status: each instance's VOS state and data ages, and each service's state."""

from __future__ import annotations

from datetime import datetime

import msgspec


class InstanceStatus(msgspec.Struct):
    id: int
    name: str
    enabled: bool
    # ok, failing, backing_off (calls to VOS paused after transport failures), no_data, disabled
    vos_state: str
    # failing / backing_off: since when (from the poller's heartbeat, or the last success in the
    # database when only the database knows); otherwise null
    failing_since: datetime | None
    state_source: str | None  # poller (the lease holder's heartbeat) or database (the cache rows)
    failing_apis: list[str]  # scheduled APIs whose last call failed
    last_error: str | None  # the newest of their errors
    poller_id: str | None  # the lease holder: the poller polling this instance now
    config_synced_at: datetime | None  # both gateway config lists fetched successfully (the older)
    config_age_s: float | None
    online_synced_at: datetime | None  # both online lists fetched successfully (the older)
    online_age_s: float | None
    gateways_online: int
    gateways_total: int


class PollerStatus(msgspec.Struct):
    up: int  # pollers with a live heartbeat (it expires with the lease TTL)
    ids: list[str]


class WriterStatus(msgspec.Struct):
    # An idle writer always has a pull request waiting and a busy one has messages unacknowledged;
    # neither for a while means no writer is consuming. null when NATS could not be asked.
    up: bool | None
    pulls_waiting: int | None
    consumer_lag: int | None  # results on VOS_RESULTS not yet delivered to a writer (num_pending)
    ack_pending: int | None  # delivered, not yet committed and acknowledged
    outbox_backlog: int  # gateway events committed but not yet published (gateway_event_outbox)


class ServicesStatus(msgspec.Struct):
    api: str  # this api's readiness: ok, degraded or unavailable
    api_checks: dict[str, bool]
    pollers: PollerStatus | None  # null when NATS could not be asked
    writers: WriterStatus
    problems: list[str]  # what could not be asked, one sentence each


class StatusReply(msgspec.Struct):
    checked_at: datetime
    instances: list[InstanceStatus]
    services: ServicesStatus
