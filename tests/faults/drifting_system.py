"""The system most fault scenarios run: two simulated VOS instances of 20 gateways each, a tenth of
them flipping every half second, with the writer, the api and the poller as processes."""

from __future__ import annotations

from typing import Any

from tests.faults.conftest import MakeSystem
from tests.faults.system import FaultSystem


async def start_drifting_system(
    make_system: MakeSystem, *, nats_url: str, database_url: str, **overrides: Any
) -> FaultSystem:
    """Builds the system on the given servers (`overrides` are settings) and starts all services."""
    system = await make_system(
        nats_url=nats_url,
        database_url=database_url,
        sim_instances=2,
        gateways=20,
        drift_s=0.5,
        drift_fraction=0.1,
        **overrides,
    )
    system.add("writer", "vosync-writer")
    system.add("api", "vosync-api")
    system.add("poller", "vosync-poller")
    await system.start("writer", "api", "poller")
    return system
