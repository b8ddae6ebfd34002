"""A 3-node NATS JetStream cluster from deploy/nats/cluster.conf, replicated streams, and the real
poller and writer processes, each with its deploy user: one NATS node is killed (SIGKILL) in the
middle of a run of results, and every result is still applied and the services carry on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from tests.integration.deploy.deployed_nats import JS_TIMEOUT_S, PASSWORDS, DeployedNats
from tests.support.processes import ServiceProc, stop_all
from vosync.shared import bus
from vosync.shared.codec import decode
from vosync.shared.instances import InstanceRecord
from vosync.shared.messages import FetchResult
from vosync.shared.settings import Settings
from vosync.sim.cluster import SimCluster

pytestmark = pytest.mark.slow

POLL_INTERVAL_S = 1.0
SCHEDULED_APIS = [spec.name for spec in Settings().catalogue.scheduled()]
# After the kill, every key must have been fetched and applied this long after the node died: the
# cluster elected new leaders and results flowed again, not just the ones in flight.
AFTER_KILL_S = 4.0
DEADLINE_S = 60.0


async def _until(check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = DEADLINE_S) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


@pytest.fixture
async def admin(nats_cluster: DeployedNats) -> AsyncIterator[NatsClient]:
    """The operator's view of the cluster (follows the cluster through the node's death)."""
    nc = await nats.connect(
        servers=nats_cluster.url.split(","),
        user="admin",
        password=PASSWORDS["admin"],
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.2,
    )
    yield nc
    await nc.close()


@pytest.fixture
async def processes() -> AsyncIterator[list[ServiceProc]]:
    started: list[ServiceProc] = []
    yield started
    await stop_all(started)


async def _register_instances(
    nats_cluster: DeployedNats, pg_conn: asyncpg.Connection, sim: SimCluster
) -> list[int]:
    """What the api does for each new instance: a vos_instances row, mirrored into KV (as the api)."""
    ids = []
    for index, url in enumerate(sim.urls, start=1):
        ids.append(
            await pg_conn.fetchval(
                "INSERT INTO vos_instances (name, base_url) VALUES ($1, $2) RETURNING id", f"sim-{index}", url
            )
        )
    settings = nats_cluster.settings("api")
    nc = await bus.connect(settings, "test-api")
    try:
        [config] = [c for c in bus.bucket_configs(settings) if c.bucket == bus.INSTANCES_BUCKET]
        kv = await bus.ensure_bucket(nc.jetstream(timeout=JS_TIMEOUT_S), config)
        for instance_id, url in zip(ids, sim.urls, strict=True):
            record = InstanceRecord(id=instance_id, name=f"sim-{instance_id}", base_url=url)
            await kv.put(bus.instance_key(instance_id), record.to_kv())
    finally:
        await nc.close()
    return ids


def _service_env(nats_cluster: DeployedNats, user: str, **extra: str) -> dict[str, str]:
    return {
        "VOSYNC_NATS_URL": nats_cluster.url,  # all three nodes
        "VOSYNC_NATS_USER": user,
        "VOSYNC_NATS_PASSWORD": PASSWORDS[user],
        "VOSYNC_STREAM_REPLICAS": "3",
        **extra,
    }


async def _applied(pg_conn: asyncpg.Connection) -> dict[tuple[int, str, str], datetime]:
    """last_attempt_at (= fetched_at of the newest result applied) per cache row."""
    rows = await pg_conn.fetch(
        "SELECT vos_instance_id, api_path, cache_key, last_attempt_at FROM vos_data_cache"
    )
    return {(r["vos_instance_id"], r["api_path"], r["cache_key"]): r["last_attempt_at"] for r in rows}


async def _stream_results(js: JetStreamContext) -> list[FetchResult]:
    info = await js.stream_info(bus.RESULTS_STREAM)
    results = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(bus.RESULTS_STREAM, seq)
        results.append(decode(FetchResult, msg.data or b"", dict(msg.headers or {})))
    return results


async def test_every_result_is_applied_when_a_nats_node_dies(
    nats_cluster: DeployedNats,
    admin: NatsClient,
    processes: list[ServiceProc],
    pg_conn: asyncpg.Connection,
    database_url: str,
    vos_sim: SimCluster,
    tmp_path: Path,
) -> None:
    js = admin.jetstream(timeout=JS_TIMEOUT_S)
    instance_ids = await _register_instances(nats_cluster, pg_conn, vos_sim)
    every_key = len(instance_ids) * len(SCHEDULED_APIS)
    intervals = json.dumps(dict.fromkeys(SCHEDULED_APIS, POLL_INTERVAL_S))
    writer_env = _service_env(nats_cluster, "writer", VOSYNC_DATABASE_URL=database_url)
    writers = [ServiceProc(f"writer-{i}", "vosync-writer", writer_env, tmp_path) for i in (1, 2)]
    pollers = [
        ServiceProc(
            f"poller-{i}",
            "vosync-poller",
            # Phone detail batches off: they are projected, not cached (each is another set of
            # numbers), and this test checks every result in the stream against the cache rows.
            _service_env(
                nats_cluster,
                "poller",
                VOSYNC_POLL_INTERVALS=intervals,
                VOSYNC_POLLER_ID=f"p{i}",
                VOSYNC_PHONE_DETAIL_MAX_PER_POLL="0",
            ),
            tmp_path,
        )
        for i in (1, 2)
    ]
    for proc in [*writers, *pollers]:
        processes.append(proc)
        proc.start()
    for proc in processes:
        await proc.wait_ready()

    # -- the run: every scheduled API of every instance applied, on three replicas -----------------
    async def all_keys_applied() -> bool:
        return len(await _applied(pg_conn)) == every_key

    await _until(all_keys_applied, "a first result of every key")
    results_info = await js.stream_info(bus.RESULTS_STREAM)
    assert results_info.config.num_replicas == 3
    assert results_info.cluster is not None and len(results_info.cluster.replicas or []) == 2
    consumer = await js.consumer_info(bus.RESULTS_STREAM, bus.WRITER_DURABLE)
    assert consumer.config.num_replicas == 3
    for bucket in (bus.INSTANCES_BUCKET, bus.LEASES_BUCKET):
        assert (await js.stream_info(f"KV_{bucket}")).config.num_replicas == 3

    # -- kill the node that leads VOS_RESULTS, mid-run ----------------------------------------------
    victim = results_info.cluster.leader
    assert victim is not None
    seq_at_kill = results_info.state.last_seq
    killed_at = datetime.now(UTC)
    nats_cluster.kill(victim)

    async def fresh_after_kill() -> bool:
        applied = await _applied(pg_conn)
        cutoff = killed_at.timestamp() + AFTER_KILL_S
        return len(applied) == every_key and all(at.timestamp() > cutoff for at in applied.values())

    await _until(fresh_after_kill, f"every key fetched and applied {AFTER_KILL_S:.0f} s after {victim} died")
    new_leader = (await js.stream_info(bus.RESULTS_STREAM)).cluster
    assert new_leader is not None and new_leader.leader not in (None, victim)
    for proc in processes:
        assert proc.alive(), f"{proc.name} died:\n{proc.log_tail()}"
        assert await proc.ready(), f"{proc.name} is not ready after the node died:\n{proc.log_tail()}"

    # -- stop producing; the writers drain; every result in the stream is in PostgreSQL ----------
    for proc in pollers:
        await proc.stop()

    async def drained() -> bool:
        info = await js.consumer_info(bus.RESULTS_STREAM, bus.WRITER_DURABLE)
        return bool(info.num_pending == 0 and info.num_ack_pending == 0)

    await _until(drained, "the writers to ack every result")
    results = await _stream_results(js)
    assert len(results) > seq_at_kill  # results kept coming after the kill
    newest: dict[tuple[int, str, str], datetime] = {}
    for result in results:
        key = (result.instance_id, result.api_path, result.cache_key)
        newest[key] = max(newest.get(key, result.fetched_at), result.fetched_at)
    assert await _applied(pg_conn) == newest
    assert all(result.ok for result in results), "the simulator runs without faults"
    assert (await js.stream_info(bus.DEAD_LETTER_STREAM)).state.messages == 0
    gateways = await pg_conn.fetch(
        "SELECT vos_instance_id, gateway_type, count(*) AS n FROM gateways GROUP BY 1, 2 ORDER BY 1, 2"
    )
    assert [(r["vos_instance_id"], r["gateway_type"], r["n"]) for r in gateways] == [
        (instance_id, kind, 50) for instance_id in instance_ids for kind in ("mapping", "routing")
    ]
    for proc in writers:
        assert await proc.ready(), f"{proc.name}:\n{proc.log_tail()}"

    # -- the node comes back and catches up: three current replicas again --------------------------
    await asyncio.to_thread(nats_cluster.restart, victim)

    async def replicas_current() -> bool:
        cluster = (await js.stream_info(bus.RESULTS_STREAM)).cluster
        peers = (cluster.replicas or []) if cluster else []
        return bool(len(peers) == 2 and all(peer.current and not peer.offline for peer in peers))

    await _until(replicas_current, f"{victim} to catch up with VOS_RESULTS")
