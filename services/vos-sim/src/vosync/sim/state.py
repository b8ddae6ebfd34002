"""The data of one simulated VOS instance: built from the seed, changed by drift and the control API.

All replies come out of here as bytes. Only this class mutates the gateway tables, so it knows when a
cached reply (performance, phones) must be rebuilt.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from vosync.sim import datagen
from vosync.sim.datagen import MAPPING, ROUTING
from vosync.sim.dataset import Dataset, build_dataset
from vosync.sim.gateways import Gateway, GatewayTable, dumps


class StateError(Exception):
    """A control request the state cannot honour; `status` is the HTTP status to answer with."""

    status = 400


class UnknownGatewayError(StateError):
    status = 404


class DuplicateGatewayError(StateError):
    status = 409


class GatewayOfflineError(StateError):
    status = 409


def _stochastic_count(rng: random.Random, fraction: float, total: int) -> int:
    """fraction × total rounded up or down at random, so small tables still change now and then."""
    exact = fraction * total
    whole = int(exact)
    return min(total, whole + (rng.random() < exact - whole))


class InstanceState:
    """One instance's data. The constructor builds it in the calling thread; `create()` in a worker thread."""

    def __init__(
        self,
        index: int,
        gateways: int,
        seed: int,
        epoch_ms: int | None = None,
        dataset: Dataset | None = None,
    ) -> None:
        self.index = index
        self.gateway_count = gateways
        self.seed = seed
        self.ctx = datagen.instance_context(index)
        # Initial times are offsets from epoch_ms, so a fixed epoch gives byte-identical data.
        self.epoch_ms = int(time.time() * 1000) if epoch_ms is None else epoch_ms
        self._mono_start = time.monotonic()
        self.install(dataset or self.build())

    @classmethod
    async def create(cls, index: int, gateways: int, seed: int, epoch_ms: int | None = None) -> InstanceState:
        """Build the data in a worker thread (10,000 gateways of each kind take a second or two)."""
        epoch = int(time.time() * 1000) if epoch_ms is None else epoch_ms
        ctx = datagen.instance_context(index)
        data = await asyncio.to_thread(build_dataset, index, gateways, seed, ctx, epoch)
        return cls(index, gateways, seed, epoch, dataset=data)

    def now_ms(self) -> int:
        return self.epoch_ms + int((time.monotonic() - self._mono_start) * 1000)

    def table(self, kind: str) -> GatewayTable:
        return self.tables[kind]

    def build(self) -> Dataset:
        """The seed's initial data; reads only constructor values, so it may run in a thread."""
        return build_dataset(self.index, self.gateway_count, self.seed, self.ctx, self.epoch_ms)

    def install(self, data: Dataset) -> None:
        """Serve this data from now on (a reset installs a fresh `build()`)."""
        self.tables = data.tables
        self._phones = data.phones
        self._fee_rate_groups = data.fee_rate_groups
        self._suites = data.suites
        self._softswitch_reply = data.softswitch_reply
        self._cdr_queue_size = data.cdr_queue_size
        self._drift_rng = data.drift_rng
        self._invalidate()

    def _invalidate(self) -> None:
        self._performance_reply: bytes | None = None
        self._all_phones_reply: bytes | None = None

    # ---- drift ----------------------------------------------------------------------------------

    def drift(self, fraction: float) -> int:
        """One step of change: `fraction` of gateways (and phones) flip online state, and the traffic
        figures of `fraction` of the online gateways move. Returns how many gateways flipped."""
        rng, now = self._drift_rng, self.now_ms()
        flipped = 0
        for table in self.tables.values():
            gateways = list(table)
            for gateway in rng.sample(gateways, _stochastic_count(rng, fraction, len(gateways))):
                self._flip(rng, table, gateway, now)
                flipped += 1
            online = [gw for gw in table if gw.online is not None]
            for gateway in rng.sample(online, _stochastic_count(rng, fraction, len(online))):
                assert gateway.online is not None
                datagen.jitter_stats(rng, gateway.online, gateway.config["capacity"])
                if gateway.online.keep_time:
                    gateway.online.update_time = now
                table.refresh(gateway)
        phones = list(self._phones)
        for e164 in rng.sample(phones, _stochastic_count(rng, fraction, len(phones))):
            offline = self._phones[e164] is None
            self._phones[e164] = datagen.phone_online_item(rng, e164, self.ctx, now) if offline else None
        online_phones = [item for item in self._phones.values() if item is not None]
        for item in rng.sample(online_phones, _stochastic_count(rng, fraction, len(online_phones))):
            datagen.jitter_phone(rng, item, now)
        self._fee_rate_groups = datagen.drift_fee_rate_groups(rng, self._fee_rate_groups, fraction)
        self._suites = datagen.drift_suites(rng, self._suites, fraction)
        self._cdr_queue_size = max(0, self._cdr_queue_size + rng.randint(-5, 5))
        self._invalidate()
        return flipped

    def _flip(self, rng: random.Random, table: GatewayTable, gateway: Gateway, now: int) -> None:
        if gateway.online is not None:
            table.set_online(gateway, None)
        else:
            table.set_online(
                gateway, datagen.new_online_state(rng, gateway.config, table.kind, now, just_now=True)
            )

    # ---- control --------------------------------------------------------------------------------

    def _gateway(self, kind: str, name: str) -> Gateway:
        gateway = self.tables[kind].get(name)
        if gateway is None:
            raise UnknownGatewayError(f"no {kind} gateway named {name!r}")
        return gateway

    def set_online(self, kind: str, name: str, online: bool) -> Gateway:
        table, gateway = self.tables[kind], self._gateway(kind, name)
        if online != (gateway.online is not None):
            self._flip(self._drift_rng, table, gateway, self.now_ms())
            self._invalidate()
        return gateway

    def set_stats(
        self,
        kind: str,
        name: str,
        *,
        concurrent_calls: int | None = None,
        asr: float | None = None,
        acd: int | None = None,
    ) -> Gateway:
        """Set an online gateway's traffic figures (the ones not given stay as they are)."""
        table, gateway = self.tables[kind], self._gateway(kind, name)
        if gateway.online is None:
            raise GatewayOfflineError(f"{kind} gateway {name!r} is offline: it has no traffic figures")
        if concurrent_calls is not None:
            gateway.online.current_call = concurrent_calls
        if asr is not None:
            gateway.online.asr = asr
        if acd is not None:
            gateway.online.acd = acd
        if gateway.online.keep_time:
            gateway.online.update_time = self.now_ms()
        table.refresh(gateway)
        self._invalidate()
        return gateway

    def add_gateway(self, kind: str, name: str, online: bool, overrides: dict[str, Any]) -> Gateway:
        """A new gateway: generated defaults (seeded by its name), then the given config fields."""
        table = self.tables[kind]
        if name in table:
            raise DuplicateGatewayError(f"a {kind} gateway named {name!r} exists")
        rng = random.Random(f"vos-sim:{self.seed}:{self.index}:{kind}:{name}")
        config = (
            datagen.mapping_config(rng, name, len(table) + 1)
            if kind == MAPPING
            else datagen.routing_config(rng, name)
        )
        for key, value in overrides.items():
            config[key] = _checked_field(kind, config, key, value)
        state = datagen.new_online_state(rng, config, kind, self.now_ms(), just_now=True) if online else None
        gateway = table.add(config, state)
        self._invalidate()
        return gateway

    def remove_gateway(self, kind: str, name: str) -> None:
        self._gateway(kind, name)
        self.tables[kind].remove(name)
        self._invalidate()

    def set_phone_online(self, e164: str, online: bool) -> dict[str, Any] | None:
        """Register a phone (a new number too) or drop it; returns its online entry (None: offline)."""
        current = self._phones.get(e164)
        if online and current is None:
            self._phones[e164] = datagen.phone_online_item(self._drift_rng, e164, self.ctx, self.now_ms())
        elif not online:
            self._phones[e164] = None
        self._invalidate()
        return self._phones[e164]

    def phone_entry(self, e164: str) -> dict[str, Any] | None:
        """The phone's online entry as GetPhoneOnline lists it (the object itself: a test may edit
        it to change what VOS reports); None while offline or unknown."""
        return self._phones.get(e164)

    def online_phones(self) -> list[str]:
        return [e164 for e164, item in self._phones.items() if item is not None]

    def set_fee_rate_groups(self, groups: list[dict[str, Any]]) -> None:
        """Replace the fee rate groups (items as `infoFeeRateGroups` lists them)."""
        self._fee_rate_groups = [dict(group) for group in groups]

    def set_suites(self, suites: list[dict[str, Any]]) -> None:
        """Replace the suites (items as `infoSuites` lists them)."""
        self._suites = [dict(suite) for suite in suites]

    def fee_rate_groups(self) -> list[dict[str, Any]]:
        return [dict(group) for group in self._fee_rate_groups]

    def suites(self) -> list[dict[str, Any]]:
        return [dict(suite) for suite in self._suites]

    def truth(self) -> bytes:
        return b'{"mapping":%s,"routing":%s}' % (self.tables[MAPPING].truth(), self.tables[ROUTING].truth())

    # ---- replies --------------------------------------------------------------------------------

    def performance_reply(self) -> bytes:
        if self._performance_reply is None:
            calls = sum(gw.online.current_call for gw in self.tables[MAPPING] if gw.online is not None)
            perf = {"callSize": calls, "cdrQueueSize": self._cdr_queue_size}
            self._performance_reply = b'{"retCode":0,"infoPerformance":%s}' % dumps(perf)
        return self._performance_reply

    def all_phone_online_reply(self) -> bytes:
        if self._all_phones_reply is None:
            online = [e164 for e164, item in self._phones.items() if item is not None]
            self._all_phones_reply = dumps({"retCode": 0, "e164s": online})
        return self._all_phones_reply

    def phone_online_reply(self, e164s: list[str]) -> bytes:
        items = [item for e164 in dict.fromkeys(e164s) if (item := self._phones.get(e164)) is not None]
        return dumps({"retCode": 0, "infoPhoneOnlines": items})

    def fee_rate_group_reply(self, wanted: list[str] | None) -> bytes:
        groups = [g for g in self._fee_rate_groups if wanted is None or g["name"] in wanted]
        return dumps({"retCode": 0, "infoFeeRateGroups": groups})

    def suite_reply(self, ids: list[int] | None) -> bytes:
        return dumps({"retCode": 0, "infoSuites": [s for s in self._suites if ids is None or s["id"] in ids]})

    def softswitch_reply(self) -> bytes:
        return self._softswitch_reply


def _checked_field(kind: str, config: dict[str, Any], key: str, value: Any) -> Any:
    """A config override of the JSON type the field has, or a StateError naming the problem."""
    if key not in config or key == "name":
        known = ", ".join(sorted(k for k in config if k != "name"))
        raise StateError(f"unknown {kind} gateway config field {key!r}; known: {known}")
    default = config[key]
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, list):
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    else:
        ok = isinstance(value, str)
    if not ok:
        raise StateError(f"{kind} gateway field {key!r} must be like {default!r}, got {value!r}")
    return value
