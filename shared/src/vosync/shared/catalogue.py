"""The VOS3000 web APIs vosync knows: what is polled, how long a reply stays fresh, what it projects to.

Defaults follow ARCHITECTURE.md; `VOSYNC_POLL_INTERVALS` and `VOSYNC_CACHE_TTLS` override them per API.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from types import MappingProxyType

API_PATH_PREFIX = "/external/server/"
DEFAULT_TTL_S = 300.0


class Projection(StrEnum):
    """Which entity table a successful reply updates besides the generic cache."""

    NONE = "none"
    GATEWAY_CONFIG = "gateway_config"
    GATEWAY_ONLINE = "gateway_online"
    PHONE_ONLINE = "phone_online"  # GetAllPhoneOnline: the listed numbers are online, others not
    PHONE_DETAIL = "phone_detail"  # GetPhoneOnline: the details of the numbers asked for
    FEE_RATE_GROUPS = "fee_rate_groups"
    SUITES = "suites"


class GatewayType(StrEnum):
    MAPPING = "mapping"  # 对接: the operator's customers send calls in through it
    ROUTING = "routing"  # 落地: calls leave to a carrier through it


@dataclass(frozen=True, slots=True)
class ApiSpec:
    name: str
    ttl_s: float = DEFAULT_TTL_S
    poll_interval_s: float | None = None  # None: fetched on demand only
    projection: Projection = Projection.NONE
    gateway_type: GatewayType | None = None
    list_key: str | None = None  # the reply key holding the entity list

    @property
    def path(self) -> str:
        return API_PATH_PREFIX + self.name

    @property
    def scheduled(self) -> bool:
        return self.poll_interval_s is not None


_SCHEDULED: tuple[ApiSpec, ...] = (
    ApiSpec(
        "GetGatewayMappingOnline",
        30,
        30,
        Projection.GATEWAY_ONLINE,
        GatewayType.MAPPING,
        "infoGatewayMappingOnlines",
    ),
    ApiSpec(
        "GetGatewayRoutingOnline",
        30,
        30,
        Projection.GATEWAY_ONLINE,
        GatewayType.ROUTING,
        "infoGatewayRoutingOnlines",
    ),
    ApiSpec(
        "GetGatewayMapping", 3600, 60, Projection.GATEWAY_CONFIG, GatewayType.MAPPING, "infoGatewayMappings"
    ),
    ApiSpec(
        "GetGatewayRouting", 3600, 60, Projection.GATEWAY_CONFIG, GatewayType.ROUTING, "infoGatewayRoutings"
    ),
    # The poller follows each scheduled GetAllPhoneOnline with GetPhoneOnline batches (phone_details).
    ApiSpec("GetAllPhoneOnline", 300, 120, Projection.PHONE_ONLINE, None, "e164s"),
    ApiSpec("GetFeeRateGroup", 300, 120, Projection.FEE_RATE_GROUPS, None, "infoFeeRateGroups"),
    ApiSpec("GetSuite", 300, 120, Projection.SUITES, None, "infoSuites"),
)

# Fetched on demand, and by the poller in batches after GetAllPhoneOnline; not on its own schedule.
_PROJECTED_ON_DEMAND: tuple[ApiSpec, ...] = (
    ApiSpec("GetPhoneOnline", 30, None, Projection.PHONE_DETAIL, None, "infoPhoneOnlines"),
)

# Read-only APIs of the VOS inventory (reference §3.10): fetched on demand through the proxy only.
_ON_DEMAND_NAMES: tuple[str, ...] = (
    "GetActivePhoneCard",
    "GetAlarmCurrent",
    "GetAllCustomers",
    "GetAudioExternal",
    "GetAvailableTime",
    "GetBindedE164",
    "GetCdr",
    "GetConsumption",
    "GetCurrentCall",
    "GetCurrentSuite",
    "GetCustomer",
    "GetCustomerPhoneBook",
    "GetE164Convert",
    "GetFeeRate",
    "GetIvrAudio",
    "GetIvrSecondAvailableTime",
    "GetLimitE164",
    "GetLimitE164Group",
    "GetMediaBlockIp",
    "GetMobileArea",
    "GetPayHistory",
    "GetPerformance",
    "GetPhone",
    "GetPhoneCard",
    "GetPhoneOnline",
    "GetReportCustomerFee",
    "GetReportCustomerLocationFee",
    "GetReportPhoneFee",
    "GetSoftSwitch",
    "GetSuiteOrder",
)

# Verbs of the VOS APIs that change state; the proxy refuses them (403), it never forwards a write.
WRITE_VERBS: tuple[str, ...] = (
    "Create",
    "Modify",
    "Delete",
    "Pay",
    "CallBack",
    "Disconnect",
    "PlayAudio",
    "ReserveCalleeE164",
    "PhoneCardActive",
    "Set",
    "Add",
    "Update",
    "Remove",
)


class UnknownApiError(LookupError):
    """The name is not a VOS API vosync knows."""


class WriteApiError(PermissionError):
    """The name is a VOS API that changes state, which vosync never forwards."""


def is_write_api(name: str) -> bool:
    return any(name.startswith(verb) for verb in WRITE_VERBS)


class Catalogue:
    """The known APIs with settings overrides applied; immutable once built."""

    def __init__(
        self,
        poll_intervals: Mapping[str, float] | None = None,
        cache_ttls: Mapping[str, float] | None = None,
    ) -> None:
        specs = {spec.name: spec for spec in (*_SCHEDULED, *_PROJECTED_ON_DEMAND)}
        for name in _ON_DEMAND_NAMES:
            specs.setdefault(name, ApiSpec(name))
        for name, interval in (poll_intervals or {}).items():
            specs[name] = replace(self._known(specs, name), poll_interval_s=interval)
        for name, ttl in (cache_ttls or {}).items():
            specs[name] = replace(self._known(specs, name), ttl_s=ttl)
        self._specs: Mapping[str, ApiSpec] = MappingProxyType(specs)

    @staticmethod
    def _known(specs: Mapping[str, ApiSpec], name: str) -> ApiSpec:
        if name not in specs:
            raise UnknownApiError(f"unknown VOS API {name!r}; known: {', '.join(sorted(specs))}")
        return specs[name]

    def spec(self, name: str) -> ApiSpec:
        """The spec of a read-only API; raises WriteApiError or UnknownApiError otherwise."""
        if is_write_api(name):
            raise WriteApiError(f"{name} changes VOS state; vosync only forwards read-only Get* APIs")
        return self._known(self._specs, name)

    def scheduled(self) -> list[ApiSpec]:
        return [spec for spec in self._specs.values() if spec.scheduled]

    def names(self) -> Iterable[str]:
        return self._specs.keys()

    def by_projection(self, projection: Projection) -> ApiSpec | None:
        """The API whose replies project to this table (the first, for the gateway projections)."""
        return next((spec for spec in self._specs.values() if spec.projection is projection), None)

    def by_path(self, api_path: str) -> ApiSpec:
        return self.spec(api_path.removeprefix(API_PATH_PREFIX))


def gateway_apis(projection: Projection) -> dict[GatewayType, ApiSpec]:
    """The API feeding `projection` for each gateway type (e.g. the two online lists)."""
    return {
        spec.gateway_type: spec
        for spec in _SCHEDULED
        if spec.projection is projection and spec.gateway_type is not None
    }


def known_api_names() -> frozenset[str]:
    return frozenset({s.name for s in _SCHEDULED} | set(_ON_DEMAND_NAMES))
