"""Building one instance's initial data from the seed (pure: safe to run in a worker thread)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from vosync.sim import datagen, names
from vosync.sim.datagen import KINDS, MAPPING, ROUTING, InstanceContext
from vosync.sim.gateways import GatewayTable, dumps, list_reply

ONLINE_SHARE = 0.6  # share of gateways and phones online at start


@dataclass(slots=True)
class Dataset:
    tables: dict[str, GatewayTable]
    phones: dict[str, dict[str, Any] | None]  # e164 -> online entry, None while offline
    fee_rate_groups: list[dict[str, Any]]
    suites: list[dict[str, Any]]
    softswitch_reply: bytes
    cdr_queue_size: int
    drift_rng: random.Random


def gateway_names(rng: random.Random, count: int) -> tuple[list[str], list[str]]:
    """Mapping and routing names; about 1% (at least one) are the same name on both sides."""
    mapping = names.make_names(rng, names.MAPPING_PATTERNS, count)
    routing = names.make_names(rng, names.ROUTING_PATTERNS, count)
    shared = max(1, count // 100) if count else 0
    positions = zip(rng.sample(range(count), shared), rng.sample(range(count), shared), strict=True)
    for serial, (m_pos, r_pos) in enumerate(positions, start=1):
        mapping[m_pos] = routing[r_pos] = names.shared_name(rng, serial)
    return mapping, routing


def build_dataset(index: int, count: int, seed: int, ctx: InstanceContext, epoch_ms: int) -> Dataset:
    """Everything one instance serves at start; the same arguments always give the same bytes."""
    rng = random.Random(f"vos-sim:{seed}:{index}")
    mapping_names, routing_names = gateway_names(rng, count)
    tables = {kind: GatewayTable(kind, ctx) for kind in KINDS}
    configs = [(MAPPING, datagen.mapping_config(rng, name, n)) for n, name in enumerate(mapping_names, 1)]
    configs += [(ROUTING, datagen.routing_config(rng, name)) for name in routing_names]
    for kind, config in configs:
        online = None
        if rng.random() < ONLINE_SHARE:
            online = datagen.new_online_state(rng, config, kind, epoch_ms, just_now=False)
        tables[kind].add(config, online)
    phones = {
        e164: datagen.phone_online_item(rng, e164, ctx, epoch_ms) if rng.random() < ONLINE_SHARE else None
        for e164 in datagen.phone_numbers(rng, count)
    }
    return Dataset(
        tables=tables,
        phones=phones,
        fee_rate_groups=datagen.fee_rate_groups(rng),
        suites=datagen.suites(rng),
        softswitch_reply=list_reply("infoSoftSwitches", map(dumps, datagen.softswitches(ctx, epoch_ms))),
        cdr_queue_size=rng.randint(0, 40),
        drift_rng=random.Random(f"vos-sim:{seed}:{index}:drift"),
    )
