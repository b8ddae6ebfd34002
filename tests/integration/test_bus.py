"""The streams, consumer and buckets declared in vosync.shared.bus, against a real JetStream."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.errors import KeyWrongLastSequenceError

from vosync.deploy.processes import free_port
from vosync.shared import bus
from vosync.shared.codec import decode, encode
from vosync.shared.messages import FetchResult
from vosync.shared.settings import Settings


@contextlib.asynccontextmanager
async def _connected(settings: Settings) -> AsyncIterator[NatsClient]:
    """A client connected the way the services connect (bus.connect), closed when the block ends."""
    nc = await bus.connect(settings, "test")
    try:
        yield nc
    finally:
        await nc.close()


async def test_publish_dedup_and_durable_pull_ack(nats_url: str) -> None:
    settings = Settings(nats_url=nats_url)
    async with _connected(settings) as nc:
        js = nc.jetstream()
        await bus.ensure_writer_consumer(js, settings)
        await bus.ensure_writer_consumer(js, settings)  # idempotent
        result = FetchResult(
            instance_id=3,
            api_name="GetSuite",
            api_path="/external/server/GetSuite",
            cache_key="abc",
            ok=True,
            response={"retCode": 0},
            fetched_at=datetime.now(UTC),
            poller_id="p",
        )
        body, headers = encode(result)
        headers["Nats-Msg-Id"] = result.msg_id
        first = await js.publish(bus.result_subject(3, "GetSuite"), body, headers=headers)
        again = await js.publish(bus.result_subject(3, "GetSuite"), body, headers=headers)
        assert first.stream == bus.RESULTS_STREAM and not first.duplicate
        assert again.duplicate and again.seq == first.seq

        sub = await js.pull_subscribe_bind(bus.WRITER_DURABLE, bus.RESULTS_STREAM)
        msgs = await sub.fetch(10, timeout=2)
        assert len(msgs) == 1
        assert decode(FetchResult, msgs[0].data, msgs[0].headers) == result
        await msgs[0].ack_sync()
        info = await js.consumer_info(bus.RESULTS_STREAM, bus.WRITER_DURABLE)
        assert info.num_ack_pending == 0 and info.num_pending == 0


async def test_fetch_subjects_are_outside_every_stream(nats_url: str) -> None:
    settings = Settings(nats_url=nats_url)
    async with _connected(settings) as nc:
        js = nc.jetstream()
        await bus.ensure_streams(js, settings)
        for info in await js.streams_info():
            for subject in info.config.subjects or []:
                assert not subject.startswith("vos.fetch"), subject
                assert not subject.startswith("vos.cache"), subject

        async def reply(msg: Msg) -> None:
            await msg.respond(b"pong")

        await nc.subscribe(bus.fetch_subject(1), queue=bus.FETCH_QUEUE, cb=reply)
        answer = await nc.request(bus.fetch_subject(1), b"ping", timeout=2)
        assert answer.data == b"pong"


async def test_kv_lease_create_update_with_revision(nats_url: str) -> None:
    settings = Settings(nats_url=nats_url, lease_ttl_s=2)
    async with _connected(settings) as nc:
        js = nc.jetstream()
        buckets = await bus.ensure_buckets(js, settings)
        leases = buckets[bus.LEASES_BUCKET]
        key = bus.lease_key(7)
        rev = await leases.create(key, b"poller-a")
        with pytest.raises(KeyWrongLastSequenceError):
            await leases.create(key, b"poller-b")  # taken
        rev2 = await leases.update(key, b"poller-a", last=rev)
        assert rev2 > rev
        with pytest.raises(KeyWrongLastSequenceError):
            await leases.update(key, b"poller-b", last=rev)  # stale revision: fenced off
        await asyncio.sleep(2.5)  # nobody renews: the lease expires with the bucket's max age
        assert await leases.create(key, b"poller-b") > rev2


async def test_refused_credentials_fail_fast_with_a_clear_message(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from vosync.deploy.embedded import EmbeddedNats
    from vosync.shared.settings import SettingsError

    with EmbeddedNats(
        tmp_path_factory.mktemp("nats-auth"), extra_config="authorization { user: svc, password: right }"
    ) as server:
        wrong = Settings(nats_url=server.url, nats_user="svc", nats_password="wrong")
        before = _other_tasks()
        with pytest.raises(SettingsError, match="refused the credentials"):
            await asyncio.wait_for(bus.connect(wrong, "test"), 10)
        assert _other_tasks() - before == set()  # the refused attempt does not retry behind us
        right = Settings(nats_url=server.url, nats_user="svc", nats_password="right")
        async with _connected(right) as nc:
            assert nc.is_connected


def _other_tasks() -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


async def test_a_connect_its_caller_gives_up_on_stops_retrying() -> None:
    # Nothing listens there: bus.connect retries until the caller's timeout cancels it. Left behind,
    # the attempt retried for ever and hung the test's event loop at teardown (CI, a TLS server).
    settings = Settings(nats_url=f"nats://127.0.0.1:{free_port()}")
    before = _other_tasks()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(bus.connect(settings, "test"), 1.5)
    assert _other_tasks() - before == set()
