"""The writer under faults: SIGKILL mid-burst, PostgreSQL stopped for 10 s, NATS restarted.

A burst mixes cache-only results (each its own key: every one must end up stored) with online
snapshots of several instances whose gateways come and go (every transition must be on
GATEWAY_EVENTS exactly once: one message per outbox row, alternating states per gateway, each
event's `previous` the state before it, the last one the state in the table).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import nats
import pytest
from nats.aio.client import Client as NatsClient

from tests.integration.writer.helpers import (
    add_instance,
    drained,
    events,
    gateways,
    publish,
)
from tests.support.waiting import wait_for
from vosync.deploy.embedded import EmbeddedNats, EmbeddedPostgres
from vosync.shared import bus
from vosync.shared.db.migrate import upgrade
from vosync.shared.messages import FetchResult
from vosync.shared.settings import Settings
from vosync.sim.replies import T0, mapping_item, mapping_online_item, ok, reply
from vosync.writer.apply import BatchApplier
from vosync.writer.db import create_pool
from vosync.writer.service import WriterService

pytestmark = pytest.mark.slow

MAP, MAP_ON = "GetGatewayMapping", "GetGatewayMappingOnline"
INSTANCES = (1, 2, 3, 4)
GATEWAYS = 12


def listed(instance_id: int, step: int) -> list[str]:
    """Which gateways an instance lists online at a step: each comes and goes on its own rhythm."""
    return [f"g{i:02d}" for i in range(GATEWAYS) if ((step + instance_id) // (1 + i % 4)) % 2 == 0]


def burst(count: int) -> list[FetchResult]:
    """`count` results in publish order: online snapshots of every instance, and cache-only results."""
    results: list[FetchResult] = []
    step = 0
    while len(results) < count:
        for instance_id in INSTANCES:
            items = [mapping_online_item(name, int(name[1:])) for name in listed(instance_id, step)]
            results.append(ok(MAP_ON, reply(MAP_ON, items), instance_id=instance_id, fetched_at=step))
        for instance_id in INSTANCES:
            body = {"retCode": 0, "infoSuites": [{"id": step, "name": f"suite-{step}"}]}
            results.append(
                ok("GetSuite", body, instance_id=instance_id, fetched_at=step, params={"ids": [step]})
            )
        step += 1
    return results[:count]


async def prepare(conn: asyncpg.Connection, settings: Settings) -> None:
    """Instances with their mapping config (so gateway rows persist while offline)."""
    pool = await create_pool(settings)
    try:
        applier = BatchApplier(pool, settings.catalogue)
        for instance_id in INSTANCES:
            await add_instance(conn, instance_id)
            config = reply(MAP, [mapping_item(f"g{i:02d}", i) for i in range(GATEWAYS)])
            await applier.apply([ok(MAP, config, instance_id=instance_id, fetched_at=-1)])
    finally:
        await pool.close()


async def check_everything_applied(
    js: nats.js.JetStreamContext, conn: asyncpg.Connection, results: list[FetchResult]
) -> None:
    suites = [r for r in results if r.api_name == "GetSuite"]
    stored = {
        (row["vos_instance_id"], row["cache_key"])
        for row in await conn.fetch("SELECT vos_instance_id, cache_key FROM vos_data_cache")
    }
    missing = [r for r in suites if (r.instance_id, r.cache_key) not in stored]
    assert not missing, f"{len(missing)} of {len(suites)} cache results not applied"
    last_step = {
        r.instance_id: int((r.fetched_at - T0).total_seconds()) for r in results if r.api_name == MAP_ON
    }
    # Outbox ids have gaps where a killed transaction took sequence values: compare with the rows.
    outbox_ids = [r["id"] for r in await conn.fetch("SELECT id FROM gateway_event_outbox ORDER BY id")]
    found = await wait_for(
        lambda: _events(js, len(outbox_ids)), timeout=30, what=f"{len(outbox_ids)} events on the stream"
    )
    ids = [int(h["Nats-Msg-Id"]) for h, _, _ in found]
    assert sorted(ids) == outbox_ids, "every outbox row once on the stream, none twice"
    assert [e.event_id for _, e, _ in found] == ids
    state: dict[tuple[int, str], bool] = {}
    for _, event, _ in found:
        key = (event.instance_id, event.gateway_name)
        if key in state:
            assert event.previous == state[key] and event.is_online != state[key], (key, event)
        else:
            assert event.is_online and event.previous in (None, False), (key, event)
        state[key] = event.is_online
    for instance_id in INSTANCES:
        rows = await gateways(conn, instance_id)
        online = {name for (_, name), row in rows.items() if row["is_online"]}
        assert online == set(listed(instance_id, last_step[instance_id])), instance_id
        assert online == {name for (i, name), on in state.items() if i == instance_id and on}


async def _events(js: nats.js.JetStreamContext, count: int) -> list | None:  # type: ignore[type-arg]
    found = await events(js)
    return found if len(found) >= count else None


def writer_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOSYNC_")}
    env.update(
        {
            "VOSYNC_NATS_URL": settings.require_nats_url(),
            "VOSYNC_DATABASE_URL": settings.require_database_url(),
            "VOSYNC_WRITER_BATCH_SIZE": str(settings.writer_batch_size),
            "VOSYNC_WRITER_ACK_WAIT_S": str(settings.writer_ack_wait_s),
            "VOSYNC_LOG_FORMAT": "console",
            "VOSYNC_LOG_LEVEL": "INFO",
        }
    )
    return env


async def start_writer_process(settings: Settings, log_path: Path) -> asyncio.subprocess.Process:
    executable = Path(sys.executable).parent / "vosync-writer"
    with log_path.open("ab") as log:
        return await asyncio.create_subprocess_exec(
            str(executable), env=writer_env(settings), stdout=log, stderr=log
        )


async def rows_applied(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM vos_data_cache WHERE api_name = 'GetSuite'"))


async def test_sigkill_in_the_middle_of_a_burst_loses_and_duplicates_nothing(
    make_settings: Callable[..., Settings], nc: NatsClient, pg_conn: asyncpg.Connection, tmp_path: Path
) -> None:
    settings = make_settings(writer_batch_size=20, writer_ack_wait_s=2)
    await prepare(pg_conn, settings)
    js = nc.jetstream()
    await bus.ensure_writer_consumer(js, settings)
    results = burst(1000)
    log_path = tmp_path / "writer.log"
    writer = await start_writer_process(settings, log_path)
    try:
        for result in results[:500]:
            await publish(js, result)
        await wait_for(lambda: _at_least(pg_conn, 50), timeout=30, what="the writer at work")
        publishing = asyncio.create_task(_publish_all(js, results[500:]))
        await wait_for(lambda: _at_least(pg_conn, 200), timeout=30)
        writer.send_signal(signal.SIGKILL)
        await writer.wait()
        applied_at_kill = await rows_applied(pg_conn)
        await publishing
        assert applied_at_kill < 500, "the kill came after the burst was done"
        writer = await start_writer_process(settings, log_path)
        await wait_for(lambda: drained(js, pg_conn), timeout=60, what="the restarted writer catching up")
        await check_everything_applied(js, pg_conn, results)
    finally:
        if writer.returncode is None:
            writer.send_signal(signal.SIGTERM)
            await asyncio.wait_for(writer.wait(), 10)
    assert writer.returncode == 0, log_path.read_text()[-3000:]


async def _at_least(conn: asyncpg.Connection, count: int) -> bool:
    return await rows_applied(conn) >= count


async def _publish_all(js: nats.js.JetStreamContext, results: list[FetchResult]) -> None:
    for index, result in enumerate(results):
        await publish(js, result)
        if index % 50 == 0:
            await asyncio.sleep(0.01)


@pytest.fixture
def private_pg() -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL of this test alone, so stopping it disturbs no other test. Under /tmp and
    world-traversable: as root, PostgreSQL runs as another user that must reach it."""
    path = Path(tempfile.mkdtemp(prefix="vosync-writer-pg-"))
    path.chmod(0o755)
    try:
        yield EmbeddedPostgres(path, durable=True)
    finally:
        shutil.rmtree(path, ignore_errors=True)


async def test_postgres_stopped_for_ten_seconds_during_a_burst_loses_nothing(
    make_settings: Callable[..., Settings],
    nc: NatsClient,
    private_pg: EmbeddedPostgres,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await asyncio.to_thread(private_pg.start)
    try:
        settings = make_settings(database_url=private_pg.url(), writer_batch_size=25, writer_ack_wait_s=5)
        await upgrade(settings.require_database_url())
        conn = await asyncpg.connect(private_pg.url().replace("postgresql+asyncpg://", "postgresql://"))
        await prepare(conn, settings)
        await conn.close()
        js = nc.jetstream()
        await bus.ensure_writer_consumer(js, settings)
        results = burst(600)
        service = WriterService(settings)
        await service.start()
        try:
            publishing = asyncio.create_task(_publish_paced(js, results, seconds=12))
            await asyncio.sleep(2)
            await asyncio.to_thread(private_pg.stop)
            await asyncio.sleep(10)
            await asyncio.to_thread(private_pg.start)
            await publishing
            conn = await asyncpg.connect(private_pg.url().replace("postgresql+asyncpg://", "postgresql://"))
            try:
                await wait_for(lambda: drained(js, conn), timeout=60, what="the writer catching up")
                await check_everything_applied(js, conn, results)
            finally:
                await conn.close()
            assert service.metrics.registry.get_sample_value("vosync_writer_db_retries_total")
            # An outage must hold batches, not spend deliveries; if a nak slips through, say why.
            failures = [
                getattr(r, "error", r.getMessage()) for r in caplog.records if "failed" in r.getMessage()
            ]
            naks = service.metrics.registry.get_sample_value("vosync_writer_naks_total") or 0
            assert naks <= 1, f"{naks} naks during the outage: {failures}"
        finally:
            await service.stop()
        dead = await js.stream_info(bus.DEAD_LETTER_STREAM)
        assert dead.state.messages == 0
    finally:
        await asyncio.to_thread(private_pg.stop)


async def _publish_paced(js: nats.js.JetStreamContext, results: list[FetchResult], seconds: float) -> None:
    pause = seconds / len(results)
    for result in results:
        await publish(js, result)
        await asyncio.sleep(pause)


async def test_nats_restart_pauses_the_writer_and_it_carries_on(
    make_settings: Callable[..., Settings], pg_conn: asyncpg.Connection, tmp_path: Path
) -> None:
    server = EmbeddedNats(tmp_path / "nats")
    await asyncio.to_thread(server.start)
    try:
        settings = make_settings(nats_url=server.url, writer_batch_size=25)
        await prepare(pg_conn, settings)
        results = burst(400)
        client = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
        js = client.jetstream()
        await bus.ensure_writer_consumer(js, settings)
        service = WriterService(settings)
        await service.start()
        try:
            for result in results[:200]:
                await publish(js, result)
            await wait_for(lambda: drained(js, pg_conn), timeout=30)
            await asyncio.to_thread(server.stop)
            await asyncio.sleep(2)
            await asyncio.to_thread(server.start)
            await wait_for(lambda: _connected(client), timeout=20, what="the test client reconnected")
            for result in results[200:]:
                await publish(js, result)
            await wait_for(lambda: drained(js, pg_conn), timeout=60, what="the writer carrying on")
            await check_everything_applied(js, pg_conn, results)
        finally:
            await service.stop()
            await client.close()
    finally:
        await asyncio.to_thread(server.stop)


async def _connected(client: NatsClient) -> bool:
    return bool(client.is_connected)
