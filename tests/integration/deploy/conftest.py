"""Fixtures: NATS from the deploy configuration (one node, or a 3-node cluster) on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.deploy.deployed_nats import DeployedNats


@pytest.fixture(scope="module")
def deployed_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployedNats]:
    """One node from deploy/nats/single.conf with the per-service users and permissions."""
    servers = DeployedNats(tmp_path_factory.mktemp("deploy-nats"), nodes=1)
    servers.start()
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[DeployedNats]:
    """Three nodes from deploy/nats/cluster.conf, routed to each other, with JetStream clustered."""
    servers = DeployedNats(tmp_path / "cluster", nodes=3)
    servers.start()
    try:
        yield servers
    finally:
        servers.stop()
