"""The NATS layout of vosync, declared once: subjects, streams, the writer's consumer, KV buckets.

Every service connects through `connect()` and declares what it uses through `ensure_*()`, so no
two services can disagree about a stream's configuration.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError, BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from vosync.shared.channels import (
    CACHE_CHANGED,
    DEAD_LETTER_STREAM,
    EVENTS_STREAM,
    FETCH,
    FETCH_ERROR_HEADER,
    FETCH_ERROR_STATUS_HEADER,
    FETCH_QUEUE,
    GATEWAY_ONLINE,
    PHONE_ONLINE,
    RESULTS,
    RESULTS_STREAM,
    WRITER_DURABLE,
)
from vosync.shared.settings import Settings, SettingsError
from vosync.shared.tasks import cancel_and_wait

log = logging.getLogger(__name__)

# -- subjects (the channels themselves are declared in vosync.shared.channels) -------------------
RESULT_SUBJECTS = RESULTS.stream_subject
FETCH_SUBJECTS = FETCH.wildcard
EVENT_SUBJECTS = GATEWAY_ONLINE.stream_subject
PHONE_EVENT_SUBJECTS = PHONE_ONLINE.stream_subject
DEAD_LETTER_SUBJECTS = "vos.dead.>"
CACHE_CHANGED_SUBJECTS = CACHE_CHANGED.wildcard


def result_subject(instance_id: int, api_name: str) -> str:
    return RESULTS.subject(instance_id=instance_id, api_name=api_name)


def fetch_subject(instance_id: int) -> str:
    return FETCH.subject(instance_id=instance_id)


def event_subject(instance_id: int, gateway_type: str) -> str:
    return GATEWAY_ONLINE.subject(instance_id=instance_id, gateway_type=gateway_type)


def dead_letter_subject(original_subject: str) -> str:
    return "vos.dead." + original_subject.removeprefix("vos.")


def cache_changed_subject(instance_id: int) -> str:
    return CACHE_CHANGED.subject(instance_id=instance_id)


# A 10,000-gateway config reply is several MB; results are compressed above this size (see codec).
MAX_MESSAGE_BYTES = 32 * 1024 * 1024
DUPLICATE_WINDOW_S = 300.0
DAY_S = 86_400.0


def stream_configs(replicas: int = 1) -> list[StreamConfig]:
    return [
        StreamConfig(
            name=RESULTS_STREAM,
            description="Every VOS fetch outcome, success or failure",
            subjects=[RESULT_SUBJECTS],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=3 * DAY_S,
            max_bytes=4 * 1024**3,
            max_msg_size=MAX_MESSAGE_BYTES,
            discard=DiscardPolicy.OLD,
            duplicate_window=DUPLICATE_WINDOW_S,
            num_replicas=replicas,
        ),
        StreamConfig(
            name=EVENTS_STREAM,
            description="gateway.online and phone.online transitions, published from the writer's outbox",
            subjects=[EVENT_SUBJECTS, PHONE_EVENT_SUBJECTS],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=7 * DAY_S,
            duplicate_window=DUPLICATE_WINDOW_S,
            num_replicas=replicas,
        ),
        StreamConfig(
            name=DEAD_LETTER_STREAM,
            description="Results the writer could not apply, with the reason in headers",
            subjects=[DEAD_LETTER_SUBJECTS],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=14 * DAY_S,
            max_msg_size=MAX_MESSAGE_BYTES,
            num_replicas=replicas,
        ),
    ]


def writer_consumer_config(settings: Settings) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=WRITER_DURABLE,
        description="The writers' shared durable pull consumer",
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=settings.writer_ack_wait_s,
        max_deliver=settings.writer_max_deliver,
        max_ack_pending=20_000,
        filter_subject=RESULT_SUBJECTS,
        num_replicas=settings.stream_replicas,
    )


# -- KV buckets ---------------------------------------------------------------------------------
INSTANCES_BUCKET = "vosync_instances"  # key: instance id; value: InstanceRecord JSON (kept by the api)
LEASES_BUCKET = "vosync_leases"  # keys: instance.<id> (owner lease), poller.<id> (heartbeat)


def instance_key(instance_id: int) -> str:
    return str(instance_id)


def lease_key(instance_id: int) -> str:
    return f"instance.{instance_id}"


def heartbeat_key(poller_id: str) -> str:
    return "poller." + "".join(c if c.isalnum() or c in "-_" else "_" for c in poller_id)


def bucket_configs(settings: Settings) -> list[KeyValueConfig]:
    return [
        KeyValueConfig(
            bucket=INSTANCES_BUCKET, history=1, storage=StorageType.FILE, replicas=settings.stream_replicas
        ),
        # Every key expires with the bucket's max age, so a lease or heartbeat nobody renews dies
        # by itself within the TTL.
        KeyValueConfig(
            bucket=LEASES_BUCKET,
            history=1,
            ttl=settings.lease_ttl_s,
            storage=StorageType.FILE,
            replicas=settings.stream_replicas,
        ),
    ]


# -- connecting ---------------------------------------------------------------------------------
def _tls_context(settings: Settings) -> ssl.SSLContext | None:
    if not (settings.nats_tls_ca or settings.nats_tls_cert):
        return None
    ctx = ssl.create_default_context(cafile=str(settings.nats_tls_ca) if settings.nats_tls_ca else None)
    if settings.nats_tls_cert:
        ctx.load_cert_chain(
            str(settings.nats_tls_cert), str(settings.nats_tls_key) if settings.nats_tls_key else None
        )
    return ctx


async def connect(
    settings: Settings,
    name: str,
    *,
    on_reconnect: Callable[[], Awaitable[None]] | None = None,
) -> NatsClient:
    """A connection that reconnects forever: a NATS restart pauses vosync, it never stops it.

    Refused credentials are the exception: retrying cannot fix them, so the first connect fails
    with a SettingsError instead of waiting forever.
    """
    refused = asyncio.Event()
    connected = False

    async def _disconnected() -> None:
        log.warning("nats disconnected", extra={"client": name})

    async def _reconnected() -> None:
        log.info("nats reconnected", extra={"client": name})
        if on_reconnect is not None:
            await on_reconnect()

    async def _error(exc: Exception) -> None:
        if not connected and "authorization violation" in str(exc).lower():
            refused.set()
        log.warning("nats error", extra={"client": name, "error": repr(exc)})

    # As a dict: nats-py types reconnect_time_wait as int, but it is a sleep in seconds.
    options: dict[str, Any] = {
        "servers": [s.strip() for s in settings.require_nats_url().split(",")],
        "name": name,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.5,
        "connect_timeout": 5,
        "allow_reconnect": True,
        "user": settings.nats_user,
        "password": settings.nats_password,
        "token": settings.nats_token,
        "user_credentials": str(settings.nats_creds) if settings.nats_creds else None,
        "tls": _tls_context(settings),
        "disconnected_cb": _disconnected,
        "reconnected_cb": _reconnected,
        "error_cb": _error,
        "pending_size": 64 * 1024 * 1024,
    }
    nc = NatsClient()
    connecting = asyncio.create_task(nc.connect(**options))
    refusal = asyncio.ensure_future(refused.wait())
    try:
        await asyncio.wait({connecting, refusal}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        # Cancelled (a caller's timeout, a shutdown): the attempt must not go on retrying behind it.
        await _abandon(nc, connecting)
        raise
    finally:
        refusal.cancel()
    if not connecting.done():
        await _abandon(nc, connecting)
        raise SettingsError(
            "NATS refused the credentials (authorization violation): check VOSYNC_NATS_USER, "
            "VOSYNC_NATS_PASSWORD, VOSYNC_NATS_TOKEN or VOSYNC_NATS_CREDS"
        )
    connected = True
    connecting.result()
    return nc


async def _abandon(nc: NatsClient, connecting: asyncio.Task[None]) -> None:
    """Stop a connect that is still retrying, and the client's own tasks.

    nats-py's connect loop retries for ever and can swallow one cancel (asyncio.wait_for on 3.11),
    so it is cancelled until it ends, within a bound.
    """
    await cancel_and_wait([connecting])
    with contextlib.suppress(Exception):
        await nc.close()


async def ensure_streams(js: JetStreamContext, settings: Settings) -> None:
    """Create the streams, or bring an existing one to the declared configuration."""
    for config in stream_configs(settings.stream_replicas):
        try:
            await js.add_stream(config)
        except BadRequestError:
            await js.update_stream(config)


async def ensure_writer_consumer(js: JetStreamContext, settings: Settings) -> None:
    await ensure_streams(js, settings)
    await js.add_consumer(RESULTS_STREAM, writer_consumer_config(settings))


async def ensure_bucket(js: JetStreamContext, config: KeyValueConfig) -> KeyValue:
    try:
        return await js.key_value(config.bucket)
    except (BucketNotFoundError, NotFoundError):
        return await js.create_key_value(config)


async def ensure_buckets(js: JetStreamContext, settings: Settings) -> dict[str, KeyValue]:
    return {cfg.bucket: await ensure_bucket(js, cfg) for cfg in bucket_configs(settings)}


__all__ = [
    "DEAD_LETTER_STREAM",
    "EVENTS_STREAM",
    "FETCH_ERROR_HEADER",
    "FETCH_ERROR_STATUS_HEADER",
    "FETCH_QUEUE",
    "RESULTS_STREAM",
    "WRITER_DURABLE",
]
