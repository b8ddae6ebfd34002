"""FetchResults built by hand from real simulator replies, and raw messages, published to
`vos.result.<instance>.<api>` as a poller (or something pretending to be one) would."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from nats.js import JetStreamContext
from nats.js.api import PubAck

from vosync.shared import bus
from vosync.shared.catalogue import API_PATH_PREFIX
from vosync.shared.codec import encode
from vosync.shared.messages import ErrorKind, FetchResult
from vosync.sim.replies import request_fields

POLLER_ID = "faults-crafted"


async def vos_reply(
    client: httpx.AsyncClient, vos_url: str, api_name: str, params: dict[str, Any] | None = None
) -> Any:
    """What the simulated VOS answers right now (the body a poller would publish)."""
    response = await client.post(f"{vos_url}{API_PATH_PREFIX}{api_name}", json=params or {})
    response.raise_for_status()
    return response.json()


def result(
    instance_id: int,
    api_name: str,
    response: dict[str, Any] | None,
    fetched_at: datetime,
    *,
    ok: bool = True,
    error_kind: ErrorKind | None = None,
    params: dict[str, Any] | None = None,
    poller_id: str = POLLER_ID,
) -> FetchResult:
    return FetchResult(
        **request_fields(api_name, params),
        instance_id=instance_id,
        ok=ok,
        ret_code=0 if ok else None,
        error=None if ok else f"crafted {error_kind}",
        error_kind=error_kind,
        response=response,
        fetched_at=fetched_at,
        duration_ms=1.0,
        poller_id=poller_id,
    )


async def publish(js: JetStreamContext, item: FetchResult, *, msg_id: str | None = "auto") -> PubAck:
    """As the poller publishes (Nats-Msg-Id = the result's msg_id); `msg_id=None` sends none, so a
    second copy is stored as a new message."""
    body, headers = encode(item)
    if msg_id == "auto":
        headers["Nats-Msg-Id"] = item.msg_id
    elif msg_id is not None:
        headers["Nats-Msg-Id"] = msg_id
    return await js.publish(
        bus.result_subject(item.instance_id, item.api_name), body, headers=headers or None
    )


async def publish_raw(
    js: JetStreamContext, subject: str, data: bytes, headers: dict[str, str] | None = None
) -> PubAck:
    ack = await js.publish(subject, data, headers=headers)
    assert ack.stream == bus.RESULTS_STREAM
    return ack
