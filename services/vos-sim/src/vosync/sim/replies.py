"""VOS3000-shaped replies and FetchResults, built by hand, for the tests and the benchmarks.

Index-based and fixed (no randomness, unlike `datagen`, which feeds the running simulator), so a
test can say which field it expects. It lives with the simulator so that tests/ and benchmarks/
share it without importing each other.

Field names follow the reference (§3.1–3.4): config items of GetGatewayMapping/GetGatewayRouting with
their real keys (`remoteIps`, `remoteIp`, `signalPort`, `protocol` 0/1, …) and the online lists
`infoGatewayMappingOnlines` / `infoGatewayRoutingOnlines` (listed = online, `currentCall`, asr, acd).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

from vosync.shared.cache_key import cache_key
from vosync.shared.catalogue import API_PATH_PREFIX
from vosync.shared.messages import ErrorKind, FetchResult

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _shared_config(i: int) -> dict[str, Any]:
    """Fields both gateway kinds carry (§3.3 "Shared with 3.1"), with realistic values."""
    return {
        "capacity": (30, 60, 100, 200, 500)[i % 5],
        "priority": i % 10,
        "gatewayGroups": "VIP,华东组" if i % 3 == 0 else "",
        "rtpForwardType": i % 4,
        "mediaCheckDirection": 0,
        "maxCallDurationLower": -1,
        "maxCallDurationUpper": 3600 if i % 2 else -1,
        "callerE164CheckEnable": False,
        "calleeE164CheckEnable": i % 7 == 0,
        "callerE164CheckCity": False,
        "callerE164CheckMobile": False,
        "callerE164CheckOther": False,
        "calleeE164CheckCity": False,
        "calleeE164CheckMobile": False,
        "calleeE164CheckOther": False,
        "callerAllowLength": 0,
        "calleeAllowLength": 0,
        "denySameCityCodes": "",
        "denySameCityCodesAllow": False,
        "checkMobileArea": "",
        "checkMobileAreaAllow": False,
        "sipResponseAddressMethod": 0,
        "sipRequestAddressMethod": 0,
        "dtmfSendMethodH323": 0,
        "dtmfSendMethodSip": 1,
        "dtmfReceiveMethod": 0,
        "dtmfSendPayloadTypeH323": 101,
        "dtmfSendPayloadTypeSip": 101,
        "dtmfReceivePayloadType": 101,
        "h323FastStart": True,
        "h323H245Tunneling": True,
        "h323H245InSetup": False,
        "h323AutoCallProceeding": True,
        "h323CallProceedingFromSipTrying": False,
        "h323AlertingFromSip183Sdp": True,
        "h323T38": False,
        "sipTimer": False,
        "sip100Rel": False,
        "sipT38": False,
        "sipPrivacySupport": False,
        "callerLimitE164Groups": "",
        "callerLimitE164GroupsAllow": False,
        "calleeLimitE164Groups": "",
        "calleeLimitE164GroupsAllow": False,
        "minProfitPercent": 0,
        "minProfitPercentEnable": False,
        "maxSecondRates": 0.0,
        "maxSecondRatesEnable": False,
        "h323G729SendMode": 0,
        "sipG729SendMode": 0,
        "sipG729Annexb": 0,
        "sipG723Annexa": 0,
        "h323CodecAssign": False,
        "sipCodecAssign": False,
        "h323Codecs": ["G729", "G711A"],
        "sipCodecs": ["G729", "G711A", "G711U"],
        "audioCodecTranscodingEnable": False,
        "rtpIncludeDtmfInband": False,
        "rtpNeedDtmfInband": False,
        "softswitchName": "softswitch1",
        "password": f"pw{i:06d}",
        "customerPassword": "",
        "memo": "主用" if i % 4 == 0 else "",
        "mediaRecord": False,
        "calculateRouteQuality": True,
    }


def mapping_item(name: str, i: int = 0, *, ips: str | None = None, **over: Any) -> dict[str, Any]:
    """One InfoGatewayMapping (§3.1)."""
    item = {
        "name": name,
        "lockType": 0,
        "callLevel": 4,
        "routingGatewayGroupsAllow": False,
        "routingGatewayGroups": "",
        "registerType": i % 2,
        "remoteIps": ips if ips is not None else f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256},10.9.9.9",
        "rewriteRulesOutCallee": "",
        "rewriteRulesOutCaller": "",
        "calloutCalleePrefixes": "",
        "calloutCalleePrefixesAllow": False,
        "calloutCallerPrefixes": "",
        "calloutCallerPrefixesAllow": False,
        "timeoutCallProceeding": 0,
        "allowPhoneBilling": False,
        "allowBindedE164Billing": False,
        "enablePhoneSetting": False,
        "q931ProgressIndicator": 0,
        "account": f"acct{i:06d}",
        "accountName": f"客户{i}",
        "callFailedQ931CauseValue": 0,
        "callFailedSipCode": 0,
        "sipRemoteRingSignal": 0,
        "sipCalleeE164Domain": "",
        "sipCallerE164Domain": "",
        "h323CalleeE164Domain": "",
        "h323CallerE164Domain": "",
        "sipAuthenticationMethod": 0,
        "groupE164Change": False,
        "firstRoutePolicy": 0,
        "secondRoutePolicy": 1,
        "forwardSignalRewriteE164Group": "",
        "forwardSignalRewriteE164GroupEnable": False,
        "lrnEnable": False,
        "lrnEatPrefixLength": 0,
        "lrnFailureAction": 0,
        "lrnInterstateBillingPrefix": "",
        "lrnUndeterminedBillingPrefix": "",
        "language": "zh_CN",
        **_shared_config(i),
    }
    item.update(over)
    return item


def routing_item(name: str, i: int = 0, *, ip: str | None = None, **over: Any) -> dict[str, Any]:
    """One InfoGatewayRouting (§3.3)."""
    item = {
        "name": name,
        "prefix": "86,0086" if i % 2 else "852",
        "prefixStyle": 0,
        "registerType": 0,
        "remoteIp": ip if ip is not None else f"172.16.{i // 256 % 256}.{i % 256}",
        "protocol": i % 2,
        "signalPort": 5060 if i % 2 else 1720,
        "localIp": "10.0.0.10",
        "encrypt": False,
        "lockType": 0,
        "callinCallerPrefixes": "",
        "callinCallerPrefixesAllow": False,
        "callinCalleePrefixes": "",
        "callinCalleePrefixesAllow": False,
        "rewriteRulesInCaller": "",
        "rewriteRulesInCallee": "",
        "timeoutSetup": 0,
        "timeoutCallProceeding": 0,
        "timeoutAlerting": 0,
        "timeoutInvite": 0,
        "timeoutTrying": 0,
        "timeoutRinging": 0,
        "denyCallerCallee": "",
        "denyCallerCalleeAllow": False,
        "q931NumberingPlan": 0,
        "q931NumberType": 0,
        "clearingAccount": "",
        "clearingAccountUseCalloutE164": False,
        "sipDisplay": 0,
        "sipRemotePartyId": 0,
        "feerateRestrict": False,
        "leastCostRouting": False,
        "enablePhoneDisplay": False,
        **_shared_config(i),
    }
    item.update(over)
    return item


def mapping_online_item(name: str, i: int = 0, **over: Any) -> dict[str, Any]:
    """One InfoGatewayMappingOnline (§3.2)."""
    item = {
        "id": 1000 + i,
        "name": name,
        "currentCall": i % 17,
        "capacity": (30, 60, 100, 200, 500)[i % 5],
        "asr": 0.42 + (i % 50) / 100,
        "acd": 60 + i % 120,
        "remoteIps": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
        "localIp": "10.0.0.10",
        "registerTime": 1772366400000,
        "updateTime": 1772366460000,
        "keepTime": 60,
        "cryptoType": 0,
        "softswitchName": "softswitch1",
        "softswitchIp": "10.0.0.10",
    }
    item.update(over)
    return item


def routing_online_item(name: str, i: int = 0, **over: Any) -> dict[str, Any]:
    """One InfoGatewayRoutingOnline (§3.4)."""
    item = {
        "id": 5000 + i,
        "name": name,
        "prefix": "86,0086",
        "currentCall": i % 23,
        "capacity": (30, 60, 100, 200, 500)[i % 5],
        "asr": 0.5,
        "responseRatio": 0.93,
        "connectedRatio": 0.61,
        "acd": 95,
        "remoteIp": f"172.16.{i // 256 % 256}.{i % 256}",
        "localIp": "10.0.0.10",
        "registerTime": 0,
        "updateTime": 0,
        "keepTime": 0,
        "cryptoType": 0,
        "softswitchName": "softswitch1",
        "softswitchIp": "10.0.0.10",
    }
    item.update(over)
    return item


LIST_KEYS = {
    "GetGatewayMapping": "infoGatewayMappings",
    "GetGatewayRouting": "infoGatewayRoutings",
    "GetGatewayMappingOnline": "infoGatewayMappingOnlines",
    "GetGatewayRoutingOnline": "infoGatewayRoutingOnlines",
}


def reply(api_name: str, items: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    return {"retCode": 0, LIST_KEYS[api_name]: [dict(i) for i in items]}


class RequestFields(TypedDict):
    api_name: str
    api_path: str
    params: dict[str, Any]
    cache_key: str


def request_fields(api_name: str, params: dict[str, Any] | None) -> RequestFields:
    """The fields of a FetchResult that name its request, derived as the poller derives them."""
    path = API_PATH_PREFIX + api_name
    return {
        "api_name": api_name,
        "api_path": path,
        "params": params or {},
        "cache_key": cache_key(path, params or {}),
    }


def _when(fetched_at: datetime | float) -> datetime:
    """A fetch time given as seconds after T0, or as a datetime."""
    return at(fetched_at) if isinstance(fetched_at, int | float) else fetched_at


def ok(
    api_name: str,
    response: dict[str, Any],
    *,
    instance_id: int = 1,
    fetched_at: datetime | float = 0.0,
    params: dict[str, Any] | None = None,
    poller_id: str = "p1",
) -> FetchResult:
    when = _when(fetched_at)
    return FetchResult(
        **request_fields(api_name, params),
        instance_id=instance_id,
        ok=True,
        ret_code=int(response.get("retCode", 0)),
        response=response,
        fetched_at=when,
        duration_ms=12.5,
        poller_id=poller_id,
    )


def failed(
    api_name: str,
    *,
    instance_id: int = 1,
    fetched_at: datetime | float = 0.0,
    ret_code: int | None = -10007,
    error: str = "Not found, operation failed.",
    kind: ErrorKind = ErrorKind.RET_CODE,
    params: dict[str, Any] | None = None,
) -> FetchResult:
    when = _when(fetched_at)
    response = {"retCode": ret_code, "exception": error} if kind is ErrorKind.RET_CODE else None
    return FetchResult(
        **request_fields(api_name, params),
        instance_id=instance_id,
        ok=False,
        ret_code=ret_code,
        error=error,
        error_kind=kind,
        response=response,
        fetched_at=when,
        duration_ms=10_000.0 if kind is ErrorKind.TIMEOUT else 8.0,
        poller_id="p1",
    )


def names(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i:05d}" for i in range(count)]
