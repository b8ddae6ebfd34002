"""Per-service NATS users from deploy/nats/: each service can do its job, and nothing else.

A server started from the shipped configuration; the services connect through vosync.shared.bus with
their deploy credentials (VOSYNC_NATS_USER / VOSYNC_NATS_PASSWORD) and run the declarations and the
traffic they run in production. Forbidden operations are refused by the server: the client is told
"Permissions Violation" and nothing reaches a stream.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import nats
import nats.errors
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.kv import KeyValue

from tests.integration.deploy.deployed_nats import JS_TIMEOUT_S, PASSWORDS, DeployedNats
from vosync.shared import bus
from vosync.shared.codec import decode, encode
from vosync.shared.messages import FetchRequest, FetchResult

DEADLINE_S = 10.0


@dataclass
class WatchedClient:
    """A raw connection as one deploy user, with the server's error reports collected."""

    nc: NatsClient
    errors: list[str] = field(default_factory=list)

    async def refused(self, kind: str, subject: str) -> None:
        """Wait for the server's `Permissions Violation for <kind> to "<subject>"`."""
        wanted = f'permissions violation for {kind} to "{subject}"'.lower()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEADLINE_S
        while loop.time() < deadline:
            if any(wanted in error.lower() for error in self.errors):
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"the server did not refuse {kind} to {subject!r}; errors seen: {self.errors}")


ConnectAs = Callable[[str], Awaitable[WatchedClient]]


@pytest.fixture
async def connect_as(deployed_nats: DeployedNats) -> AsyncIterator[ConnectAs]:
    clients: list[WatchedClient] = []

    async def _connect(user: str) -> WatchedClient:
        client = WatchedClient(nc=NatsClient())

        async def on_error(exc: Exception) -> None:
            client.errors.append(str(exc))

        await client.nc.connect(
            deployed_nats.url,
            user=user,
            password=PASSWORDS[user],
            error_cb=on_error,
            allow_reconnect=False,
        )
        clients.append(client)
        return client

    yield _connect
    for client in clients:
        await client.nc.close()


async def _declare_everything(deployed_nats: DeployedNats) -> None:
    """What the three services declare at start, done by the operator's admin user."""
    settings = deployed_nats.settings("admin")
    nc = await bus.connect(settings, "test-admin")
    try:
        js = nc.jetstream(timeout=JS_TIMEOUT_S)
        await bus.ensure_writer_consumer(js, settings)
        await bus.ensure_buckets(js, settings)
    finally:
        await nc.close()


def _result(instance_id: int, poller_id: str) -> FetchResult:
    return FetchResult(
        instance_id=instance_id,
        api_name="GetSuite",
        api_path="/external/server/GetSuite",
        cache_key=f"key-{instance_id}",
        ok=True,
        response={"retCode": 0, "infoSuites": []},
        fetched_at=datetime.now(UTC),
        poller_id=poller_id,
    )


async def test_each_service_does_its_job_with_its_own_user(deployed_nats: DeployedNats) -> None:
    writer_settings = deployed_nats.settings("writer")
    poller_settings = deployed_nats.settings("poller")
    api_settings = deployed_nats.settings("api")
    writer = await bus.connect(writer_settings, "test-writer")
    poller = await bus.connect(poller_settings, "test-poller")
    api = await bus.connect(api_settings, "test-api")
    try:
        # -- start-up declarations, each with its own user ----------------------------------------
        writer_js, poller_js, api_js = (c.jetstream(timeout=JS_TIMEOUT_S) for c in (writer, poller, api))
        await bus.ensure_writer_consumer(writer_js, writer_settings)
        await bus.ensure_streams(poller_js, poller_settings)
        poller_kv = await bus.ensure_buckets(poller_js, poller_settings)
        [instances_config] = [c for c in bus.bucket_configs(api_settings) if c.bucket == bus.INSTANCES_BUCKET]
        api_instances = await bus.ensure_bucket(api_js, instances_config)

        # -- the api mirrors an instance; the poller reads and watches it, and takes its lease ------
        await api_instances.put(bus.instance_key(7), json.dumps({"id": 7}).encode())
        instances = poller_kv[bus.INSTANCES_BUCKET]
        assert json.loads((await instances.get(bus.instance_key(7))).value or b"") == {"id": 7}
        watcher = await instances.watchall()
        seen = [entry.key async for entry in _until_initial_values_done(watcher)]
        await watcher.stop()  # type: ignore[no-untyped-call]
        assert seen == [bus.instance_key(7)]
        leases = poller_kv[bus.LEASES_BUCKET]
        revision = await leases.create(bus.lease_key(7), b"poller-a")
        await leases.update(bus.lease_key(7), b"poller-a", last=revision)
        await leases.put(bus.heartbeat_key("poller-a"), b"alive")

        # -- an on-demand fetch: api -> poller (queue group) -> reply, and the result published ----
        async def answer(msg: Msg) -> None:
            request = decode(FetchRequest, msg.data)
            result = _result(request.instance_id, "poller-a")
            body, headers = encode(result)
            await poller_js.publish(
                bus.result_subject(result.instance_id, result.api_name),
                body,
                headers={**headers, "Nats-Msg-Id": result.msg_id},
            )
            await msg.respond(body)

        await poller.subscribe(bus.FETCH_SUBJECTS, queue=bus.FETCH_QUEUE, cb=answer)
        await poller.flush()
        request = FetchRequest(instance_id=7, api_name="GetSuite")
        reply = await api.request(bus.fetch_subject(7), encode(request)[0], timeout=DEADLINE_S)
        assert decode(FetchResult, reply.data).instance_id == 7

        # -- the writer consumes it, nak-with-delay then ack, and tells the api ---------------------
        events: asyncio.Queue[Msg] = asyncio.Queue()
        await api.subscribe("gateway.>", cb=events.put)
        await api.subscribe("phone.>", cb=events.put)
        await api.subscribe(bus.CACHE_CHANGED_SUBJECTS, cb=events.put)
        await api.flush()
        pull = await writer_js.pull_subscribe_bind(bus.WRITER_DURABLE, bus.RESULTS_STREAM)
        [first] = await pull.fetch(1, timeout=DEADLINE_S)
        await first.nak(delay=0.1)
        [again] = await pull.fetch(1, timeout=DEADLINE_S)
        assert again.metadata.num_delivered == 2
        await again.in_progress()
        await again.ack_sync()
        event_subject = bus.event_subject(7, "mapping")
        event_ack = await writer_js.publish(event_subject, b"{}", headers={"Nats-Msg-Id": "1"})
        assert event_ack.stream == bus.EVENTS_STREAM
        phone_ack = await writer_js.publish("phone.online.7", b"{}", headers={"Nats-Msg-Id": "2"})
        assert phone_ack.stream == bus.EVENTS_STREAM
        dead_ack = await writer_js.publish(bus.dead_letter_subject(again.subject), again.data)
        assert dead_ack.stream == bus.DEAD_LETTER_STREAM
        await writer.publish(bus.cache_changed_subject(7), b'["key-7"]')
        await api.publish(bus.cache_changed_subject(8), b'["key-8"]')  # an invalidation, to other replicas
        received = {(await asyncio.wait_for(events.get(), DEADLINE_S)).subject for _ in range(4)}
        assert received == {
            bus.event_subject(7, "mapping"),
            "phone.online.7",
            bus.cache_changed_subject(7),
            bus.cache_changed_subject(8),
        }
        consumer = await writer_js.consumer_info(bus.RESULTS_STREAM, bus.WRITER_DURABLE)
        assert consumer.num_pending == 0 and consumer.num_ack_pending == 0
    finally:
        for nc in (writer, poller, api):
            await nc.close()


async def _until_initial_values_done(watcher: KeyValue.KeyWatcher) -> AsyncIterator[KeyValue.Entry]:
    async for entry in watcher:
        if entry is None:  # nats-py's marker: the current values have all been delivered
            return
        yield entry


PUBLISH_REFUSED = [
    ("api", "vos.result.x"),  # only pollers produce results
    ("writer", "vos.result.1.GetSuite"),
    ("poller", "gateway.online.1.mapping"),  # only writers announce gateway changes
    ("api", "gateway.online.1.mapping"),
    ("poller", "phone.online.1"),  # only writers announce phone changes
    ("api", "phone.online.1"),
    ("poller", "vos.cache.changed.1"),
    ("writer", "vos.fetch.1"),  # only the api asks pollers to fetch
    ("poller", "_INBOX.someone.else"),  # a poller answers the requests it received, nothing more
    ("poller", "$KV.vosync_instances.1"),  # pollers read instances; the api writes them
    ("writer", "$KV.vosync_leases.instance.1"),  # leases are the pollers'
    ("api", "$KV.vosync_leases.instance.1"),
    ("poller", "$JS.API.STREAM.DELETE.VOS_RESULTS"),  # no service deletes or purges a stream
    ("writer", "$JS.API.STREAM.PURGE.VOS_RESULTS"),
    ("api", "$JS.API.STREAM.CREATE.VOS_RESULTS"),
    ("api", "$JS.API.CONSUMER.DURABLE.CREATE.VOS_RESULTS.writer"),  # no one else joins the writers
    ("poller", "$JS.API.CONSUMER.MSG.NEXT.VOS_RESULTS.writer"),
    ("writer", "$JS.API.CONSUMER.CREATE.VOS_RESULTS"),  # nor opens another consumer on results
]


@pytest.mark.parametrize(("user", "subject"), PUBLISH_REFUSED, ids=[f"{u}:{s}" for u, s in PUBLISH_REFUSED])
async def test_forbidden_publish_is_refused(connect_as: ConnectAs, user: str, subject: str) -> None:
    client = await connect_as(user)
    await client.nc.publish(subject, b"{}")
    await client.nc.flush()
    await client.refused("publish", subject)
    assert client.nc.is_connected  # refused, not disconnected: the service carries on


SUBSCRIBE_REFUSED = [
    ("api", "vos.result.>", ""),  # results go to the writers only
    ("writer", "gateway.>", ""),
    ("poller", "vos.fetch.>", ""),  # a poller takes fetches only as a member of the queue group
    ("poller", "vos.fetch.>", "other"),
    ("api", "vos.fetch.>", "pollers"),  # the api cannot pose as a poller
    ("poller", "vos.cache.changed.>", ""),
    ("writer", "$KV.vosync_instances.>", ""),
]


@pytest.mark.parametrize(
    ("user", "subject", "queue"),
    SUBSCRIBE_REFUSED,
    ids=[f"{u}:{s}:{q or '-'}" for u, s, q in SUBSCRIBE_REFUSED],
)
async def test_forbidden_subscribe_is_refused(
    connect_as: ConnectAs, user: str, subject: str, queue: str
) -> None:
    client = await connect_as(user)
    await client.nc.subscribe(subject, queue=queue)
    await client.nc.flush()
    await client.refused("subscription", subject)


async def test_writer_request_to_pollers_is_refused(connect_as: ConnectAs) -> None:
    poller = await connect_as("poller")
    answered: list[str] = []

    async def answer(msg: Msg) -> None:
        answered.append(msg.subject)
        await msg.respond(b"{}")

    await poller.nc.subscribe(bus.FETCH_SUBJECTS, queue=bus.FETCH_QUEUE, cb=answer)
    await poller.nc.flush()
    writer = await connect_as("writer")
    with pytest.raises(nats.errors.TimeoutError):
        await writer.nc.request(bus.fetch_subject(1), b"{}", timeout=1)
    await writer.refused("publish", bus.fetch_subject(1))
    assert answered == []  # the request never reached the poller
    api = await connect_as("api")
    assert (await api.nc.request(bus.fetch_subject(1), b"{}", timeout=DEADLINE_S)).data == b"{}"


async def test_refused_publishes_leave_no_trace(connect_as: ConnectAs, deployed_nats: DeployedNats) -> None:
    await _declare_everything(deployed_nats)
    admin = await nats.connect(deployed_nats.url, user="admin", password=PASSWORDS["admin"])
    try:
        js = admin.jetstream(timeout=JS_TIMEOUT_S)
        before = {
            name: (await js.stream_info(name)).state.messages
            for name in (bus.RESULTS_STREAM, bus.EVENTS_STREAM, "KV_vosync_leases", "KV_vosync_instances")
        }
        api = await connect_as("api")
        poller = await connect_as("poller")
        writer = await connect_as("writer")
        attempts = [
            (api, bus.result_subject(1, "GetSuite")),
            (poller, bus.event_subject(1, "mapping")),
            (writer, "$KV.vosync_leases." + bus.lease_key(1)),
            (poller, "$KV.vosync_instances." + bus.instance_key(1)),
        ]
        for client, subject in attempts:
            await client.nc.publish(subject, b"{}")
            await client.nc.flush()
            await client.refused("publish", subject)
        after = {name: (await js.stream_info(name)).state.messages for name in before}
        assert after == before
    finally:
        await admin.close()


async def test_unknown_users_and_wrong_passwords_are_refused(deployed_nats: DeployedNats) -> None:
    for user, password in [(None, None), ("poller", "not-the-password"), ("intruder", "x")]:
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nats.connect(deployed_nats.url, user=user, password=password, allow_reconnect=False)
