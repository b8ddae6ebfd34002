"""SimCluster ports and lifecycle, the vos-sim command, and an instance of 10,000 gateways."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import time
from urllib.parse import quote

import httpx
import pytest

from tests.fixtures.sim import MakeVosSim
from tests.integration.sim.conftest import vos
from tests.support.vos_models import GatewayMappingReply, GatewayRoutingOnlineReply
from vosync.sim.cluster import SimCluster


def free_port_block(count: int) -> int:
    """A base port with `count` free ports after it (checked now; good enough on loopback)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base: int = probe.getsockname()[1]
        if base + count >= 65535:
            continue
        try:
            sockets = []
            for port in range(base, base + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no block of free ports")


async def test_free_ports_and_urls(vos_sim: SimCluster) -> None:
    assert len(vos_sim.urls) == 2
    assert len(set(vos_sim.urls)) == 2
    for url in vos_sim.urls:
        assert url.startswith("http://127.0.0.1:") and not url.endswith("/")


async def test_base_port_gives_consecutive_ports(http: httpx.AsyncClient) -> None:
    base = free_port_block(3)
    async with SimCluster(base_port=base, instances=3, gateways=5, seed=1, change_interval_s=0) as sim:
        assert sim.urls == [f"http://127.0.0.1:{base + i}" for i in range(3)]
        for url in sim.urls:
            assert (await vos(http, url, "GetPerformance")).json()["retCode"] == 0
    with pytest.raises(httpx.ConnectError):
        await vos(http, sim.urls[0], "GetPerformance")


async def test_busy_port_fails_cleanly() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        sim = SimCluster(base_port=port - 1, instances=2, gateways=1, seed=1)
        with pytest.raises(OSError, match="cannot listen"):
            await sim.start()
        assert sim._started == []


def test_bad_options_are_refused() -> None:
    for options in ({"instances": 0}, {"gateways": -1}, {"change_fraction": 1.5}, {"change_interval_s": -1}):
        with pytest.raises(ValueError):
            SimCluster(**options)


async def test_same_seed_serves_the_same_bytes(make_vos_sim: MakeVosSim, http: httpx.AsyncClient) -> None:
    first = await make_vos_sim(seed=99, epoch_ms=1_750_000_000_000)
    second = await make_vos_sim(seed=99, epoch_ms=1_750_000_000_000)
    for api in (
        "GetGatewayMapping",
        "GetGatewayMappingOnline",
        "GetGatewayRoutingOnline",
        "GetAllPhoneOnline",
    ):
        assert (await vos(http, first.urls[0], api)).content == (await vos(http, second.urls[0], api)).content


async def test_the_vos_sim_command(http: httpx.AsyncClient) -> None:
    base = free_port_block(2)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "vosync.sim.main", "--port", str(base), "--instances", "2", "--gateways", "20",
        "--seed", "5", "--change-interval", "0.2", "--change-fraction", "0.1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        lines = [(await asyncio.wait_for(process.stdout.readline(), 20)).decode() for _ in range(2)]
        assert lines == [f"vos-sim instance {i} http://127.0.0.1:{base + i}\n" for i in range(2)]
        reply = (await vos(http, f"http://127.0.0.1:{base + 1}", "GetGatewayMapping")).json()
        assert len(reply["infoGatewayMappings"]) == 20
        changes = (await http.get(f"http://127.0.0.1:{base}/_sim/changes")).json()
        assert changes == {"interval_s": 0.2, "fraction": 0.1}
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0


async def test_the_vos_sim_command_reports_a_busy_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "vosync.sim.main", "--port", str(port), "--gateways", "1",
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 2
    assert b"cannot listen" in err


@pytest.mark.slow
async def test_ten_thousand_gateways_per_instance(make_vos_sim: MakeVosSim, http: httpx.AsyncClient) -> None:
    sim = await make_vos_sim(gateways=10_000)
    base = sim.urls[0]
    started = time.monotonic()
    response = await vos(http, base, "GetGatewayMapping", timeout=30)
    first = time.monotonic() - started
    mapping = GatewayMappingReply.model_validate_json(response.content, strict=True)
    assert len(mapping.info_gateway_mappings) == 10_000
    started = time.monotonic()
    assert (await vos(http, base, "GetGatewayMapping", timeout=30)).content == response.content
    cached = time.monotonic() - started
    assert first < 5 and cached < 2, (first, cached)

    online = GatewayRoutingOnlineReply.model_validate_json(
        (await vos(http, base, "GetGatewayRoutingOnline")).content
    )
    assert 5_500 <= len(online.info_gateway_routing_onlines) <= 6_500
    # A flip invalidates only the online list; small replies stay quick meanwhile.
    name = online.info_gateway_routing_onlines[0].name
    await http.post(f"{base}/_sim/gateways/routing/{quote(name, safe='')}/online", json={"online": False})
    after = (await vos(http, base, "GetGatewayRoutingOnline")).json()["infoGatewayRoutingOnlines"]
    assert len(after) == len(online.info_gateway_routing_onlines) - 1
    started = time.monotonic()
    for _ in range(50):
        await vos(http, base, "GetPerformance")
    assert time.monotonic() - started < 2
