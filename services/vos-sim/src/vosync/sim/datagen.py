"""Deterministic, realistic VOS3000 data: gateway configs, online entries, phones, fee groups, suites.

Field names and types follow the reference (§3 of vos3000-api-and-yk-vos.md). Where the manual and the
VOS test pages disagree on `Sip`/`SIP`, the test-page spelling (`dtmfSendMethodSip`) is used, as that is
what a VOS build puts on the wire. Every value comes from the `random.Random` passed in, so one seed
always yields the same data; times are offsets from the caller's `now_ms`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from vosync.sim import names

MAPPING = "mapping"
ROUTING = "routing"
KINDS = (MAPPING, ROUTING)

_CAPACITIES = (30, 60, 100, 120, 200, 300, 500, 1000, 2000)
_KEEP_TIMES_S = (60, 120, 300, 600, 1800, 3600)
_PREFIXES = (
    *("86", "0086", "852", "853", "886", "1", "44"),
    *("13", "139", "158", "0755", "021", "010", "9", "00"),
)
_CODECS = ("G729", "G711A", "G711U", "G723", "GSM")
_MEMOS = ("", "", "", "测试线路", "月结客户", "backup route", "主用", "夜间限呼", "new 2024-05")
_GROUPS = ("华东组", "VIP", "wholesale", "默认组", "retail.cn")
_PRODUCTS = (
    *("Yealink SIP-T46S", "Grandstream GXP1625", "MicroSIP/3.21.3"),
    *("Zoiper rv2.10", "GoIP-8", "Fanvil X3S"),
)


@dataclass(frozen=True, slots=True)
class InstanceContext:
    """Per-instance constants: the softswitch and the address VOS answers on."""

    index: int
    local_ip: str
    softswitch_name: str
    softswitch_ip: str


def instance_context(index: int) -> InstanceContext:
    local_ip = f"10.{index // 250}.{index % 250}.10"
    return InstanceContext(index, local_ip, f"softswitch{index + 1}", local_ip)


def _ip(rng: random.Random) -> str:
    # Private and documentation ranges only: the data must never point at someone's real host.
    first = rng.choice(("10", "172", "192.168", "203.0.113", "198.51.100", "192.0.2"))
    if first == "10":
        return f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    if first == "172":
        return f"172.{rng.randint(16, 31)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    if first == "192.168":
        return f"192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    return f"{first}.{rng.randint(1, 254)}"


def _csv(rng: random.Random, pool: tuple[str, ...], most: int) -> str:
    return ",".join(rng.sample(pool, rng.randint(1, most)))


def _maybe(rng: random.Random, share: float, value: str) -> str:
    return value if rng.random() < share else ""


def _common_config(rng: random.Random) -> dict[str, Any]:
    """Fields GetGatewayMapping and GetGatewayRouting items share (§3.3 "Shared with 3.1")."""
    return {
        "capacity": rng.choice(_CAPACITIES),
        "priority": rng.randint(0, 10),
        "gatewayGroups": _maybe(rng, 0.3, _csv(rng, _GROUPS, 2)),
        "rtpForwardType": rng.choice((0, 0, 0, 1, 2)),
        "mediaCheckDirection": 0,
        "maxCallDurationLower": -1,
        "maxCallDurationUpper": rng.choice((-1, -1, 0, 3600)),
        "callerE164CheckEnable": False,
        "calleeE164CheckEnable": rng.random() < 0.1,
        "callerAllowLength": 0,
        "calleeAllowLength": 0,
        "denySameCityCodes": "",
        "denySameCityCodesAllow": False,
        "checkMobileArea": "",
        "checkMobileAreaAllow": False,
        "sipResponseAddressMethod": 0,
        "sipRequestAddressMethod": 0,
        "dtmfSendMethodH323": 0,
        "dtmfSendMethodSip": rng.choice((0, 1, 2)),
        "dtmfReceiveMethod": 0,
        "dtmfSendPayloadTypeH323": 101,
        "dtmfSendPayloadTypeSip": 101,
        "dtmfReceivePayloadType": 101,
        "h323FastStart": True,
        "h323H245Tunneling": True,
        "h323H245InSetup": False,
        "h323AutoCallProceeding": False,
        "h323CallProceedingFromSipTrying": False,
        "h323AlertingFromSip183Sdp": False,
        "h323T38": False,
        "sipTimer": False,
        "sip100Rel": False,
        "sipT38": False,
        "h323G729SendMode": 0,
        "sipG729SendMode": 0,
        "h323CodecAssign": False,
        "sipCodecAssign": rng.random() < 0.2,
        "h323Codecs": [],
        "sipCodecs": rng.sample(_CODECS, rng.randint(0, 2)),
        "audioCodecTranscodingEnable": False,
        "rtpIncludeDtmfInband": False,
        "rtpNeedDtmfInband": False,
        "minProfitPercentEnable": False,
        "minProfitPercent": 0,
        "maxSecondRatesEnable": False,
        "maxSecondRates": 0.0,
        "softswitchName": "",
        "mediaRecord": False,
        "calculateRouteQuality": rng.random() < 0.3,
        "memo": rng.choice(_MEMOS),
    }


def mapping_config(rng: random.Random, name: str, serial: int) -> dict[str, Any]:
    """One item of `infoGatewayMappings`: a customer-side (对接) gateway."""
    register_type = 0 if rng.random() < 0.7 else 1
    config: dict[str, Any] = {
        "name": name,
        "lockType": rng.choice((0, 0, 0, 0, 0, 0, 1, 2, 3)),
        "callLevel": rng.choice((4, 5, 5)),
        "registerType": register_type,
        "remoteIps": ",".join(_ip(rng) for _ in range(rng.randint(1, 3))) if register_type == 0 else "",
        "routingGatewayGroupsAllow": False,
        "routingGatewayGroups": "",
        "callerE164CheckCity": False,
        "callerE164CheckMobile": False,
        "callerE164CheckOther": False,
        "calleeE164CheckCity": False,
        "calleeE164CheckMobile": False,
        "calleeE164CheckOther": False,
        "calleeE164Restrict": 0,
        "allowPhoneBilling": False,
        "allowBindedE164Billing": False,
        "enablePhoneSetting": False,
        "calloutCalleePrefixes": _maybe(rng, 0.2, _csv(rng, _PREFIXES, 3)),
        "calloutCalleePrefixesAllow": False,
        "calloutCallerPrefixes": "",
        "calloutCallerPrefixesAllow": False,
        "rewriteRulesOutCallee": _maybe(rng, 0.15, f"{rng.choice(_PREFIXES)}:"),
        "rewriteRulesOutCaller": "",
        "timeoutCallProceeding": 0,
        "q931ProgressIndicator": 0,
        "account": f"{10000 + serial}",
        "accountName": names.company_name(rng),
        "password": f"pw{rng.getrandbits(32):08x}" if register_type == 1 else "",
        "customerPassword": _maybe(rng, 0.1, f"cp{rng.getrandbits(24):06x}"),
        "callFailedQ931CauseValue": 0,
        "callFailedSipCode": 0,
        "sipRemoteRingSignal": 0,
        "sipAuthenticationMethod": 0,
        "firstRoutePolicy": rng.choice((0, 1, 2)),
        "secondRoutePolicy": 0,
        "language": "",
    }
    config.update(_common_config(rng))
    return config


def routing_config(rng: random.Random, name: str) -> dict[str, Any]:
    """One item of `infoGatewayRoutings`: a carrier-side (落地) gateway."""
    register_type = rng.choices((0, 1, 2), weights=(80, 15, 5))[0]
    protocol = 1 if rng.random() < 0.85 else 0  # 0 H323, 1 SIP
    config: dict[str, Any] = {
        "name": name,
        "prefix": _maybe(rng, 0.8, _csv(rng, _PREFIXES, 4)),
        "prefixStyle": rng.choice((0, 0, 1)),
        "registerType": register_type,
        "remoteIp": _ip(rng) if register_type != 1 else "",
        "protocol": protocol,
        "signalPort": rng.choice((5060, 5060, 5060, 5080, 5061)) if protocol == 1 else 1720,
        "localIp": "",
        "encrypt": False,
        "lockType": rng.choice((0, 0, 0, 0, 3)),
        "password": f"pw{rng.getrandbits(32):08x}" if register_type else "",
        "customerPassword": "",
        "callinCallerPrefixes": "",
        "callinCallerPrefixesAllow": False,
        "callinCalleePrefixes": _maybe(rng, 0.1, _csv(rng, _PREFIXES, 2)),
        "callinCalleePrefixesAllow": True,
        "callinForwardPrefixes": "",
        "callinForwardPrefixesAllow": False,
        "rewriteRulesInCaller": "",
        "rewriteRulesInCallee": _maybe(rng, 0.2, f"{rng.choice(_PREFIXES)}:{rng.choice(_PREFIXES)}"),
        "timeoutSetup": 0,
        "timeoutCallProceeding": 0,
        "timeoutAlerting": 0,
        "timeoutInvite": 0,
        "timeoutTrying": 0,
        "timeoutRinging": rng.choice((0, 0, 60)),
        "denyCallerCallee": "",
        "denyCallerCalleeAllow": False,
        "q931NumberingPlan": 0,
        "q931NumberType": 0,
        "clearingAccount": "",
        "clearingAccountUseCalloutE164": False,
        "sipDisplay": 0,
        "sipRemotePartyId": 0,
        "feerateRestrict": False,
        "leastCostRouting": rng.random() < 0.2,
        "enablePhoneDisplay": False,
    }
    config.update(_common_config(rng))
    return config


@dataclass(slots=True)
class OnlineState:
    """What VOS reports of a gateway while it is online (registered or reachable)."""

    remote: str  # remoteIps (mapping) / remoteIp (routing) as the online entry shows it
    register_time: int  # ms; 0 for static gateways
    update_time: int  # ms; 0 for static gateways
    keep_time: int  # s; 0 for static gateways
    current_call: int
    asr: float
    acd: int
    response_ratio: float
    connected_ratio: float


def new_online_state(
    rng: random.Random, config: dict[str, Any], kind: str, now_ms: int, *, just_now: bool
) -> OnlineState:
    """A gateway's online entry when it comes online (`just_now`) or has been online a while."""
    static = config["registerType"] == 0
    configured = config["remoteIps"] if kind == MAPPING else config["remoteIp"]
    remote = configured if static and configured else _ip(rng)
    keep_time = 0 if static else rng.choice(_KEEP_TIMES_S)
    register_time = 0 if static else now_ms - (0 if just_now else rng.randint(60_000, 30 * 86_400_000))
    update_time = 0 if static else now_ms - (0 if just_now else rng.randint(0, keep_time * 1000))
    state = OnlineState(remote, register_time, update_time, keep_time, 0, 0.0, 0, 0.0, 0.0)
    jitter_stats(rng, state, config["capacity"])
    return state


def jitter_stats(rng: random.Random, state: OnlineState, capacity: int) -> None:
    """New traffic figures; ASR and the ratios are percentages with two decimals."""
    state.current_call = min(capacity, int(capacity * rng.random() ** 2 * 0.8))
    state.asr = round(rng.uniform(12.0, 78.0), 2)
    state.acd = rng.randint(15, 260)
    state.response_ratio = round(rng.uniform(80.0, 100.0), 2)
    state.connected_ratio = round(min(state.response_ratio, state.asr + rng.uniform(0.0, 15.0)), 2)


def online_item(
    kind: str, gateway_id: int, config: dict[str, Any], state: OnlineState, ctx: InstanceContext
) -> dict[str, Any]:
    """One item of `infoGatewayMappingOnlines` / `…RoutingOnlines`; no online flag: listed = online."""
    item: dict[str, Any] = {"id": gateway_id, "name": config["name"]}
    if kind == ROUTING:
        item["prefix"] = config["prefix"]
    item["currentCall"] = state.current_call
    item["capacity"] = config["capacity"]
    item["asr"] = state.asr
    if kind == ROUTING:
        item["responseRatio"] = state.response_ratio
        item["connectedRatio"] = state.connected_ratio
    item["acd"] = state.acd
    item["remoteIps" if kind == MAPPING else "remoteIp"] = state.remote
    item["localIp"] = ctx.local_ip
    item["registerTime"] = state.register_time
    item["updateTime"] = state.update_time
    item["keepTime"] = state.keep_time
    item["cryptoType"] = 0
    item["softswitchName"] = ctx.softswitch_name
    item["softswitchIp"] = ctx.softswitch_ip
    return item


def phone_numbers(rng: random.Random, count: int) -> list[str]:
    """Distinct E.164 numbers: mobiles and fixed lines of mainland China."""
    numbers: dict[str, None] = {}
    while len(numbers) < count:
        if rng.random() < 0.7:
            number = f"861{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}"
        else:
            number = f"86{rng.choice(('10', '21', '20', '755', '571'))}{rng.randint(0, 99_999_999):08d}"
        numbers[number] = None
    return list(numbers)


def phone_online_item(rng: random.Random, e164: str, ctx: InstanceContext, now_ms: int) -> dict[str, Any]:
    """One item of `infoPhoneOnlines`."""
    register_time = now_ms - rng.randint(60_000, 7 * 86_400_000)
    return {
        "e164": e164,
        "currentCall": rng.choice((0, 0, 0, 1)),
        "remoteIp": _ip(rng),
        "localIp": ctx.local_ip,
        "registerTime": register_time,
        "updateTime": now_ms - rng.randint(0, 300_000),
        "protocol": 1 if rng.random() < 0.95 else 0,
        "cryptoType": 0,
        "productId": rng.choice(_PRODUCTS),
    }


def jitter_phone(rng: random.Random, item: dict[str, Any], now_ms: int) -> None:
    """A registered phone's entry moves: its calls, and its registration refresh (updateTime)."""
    item["currentCall"] = rng.choice((0, 0, 0, 1, 2))
    item["updateTime"] = now_ms


_EXTRA_GROUPS = ("新客户", "Carrier B", "促销 2025", "企业专线", "海外 VIP")


def drift_fee_rate_groups(
    rng: random.Random, groups: list[dict[str, Any]], fraction: float
) -> list[dict[str, Any]]:
    """Now and then (chance `fraction` × 10 per step) a group's memo changes, one is added or one
    is removed, as an operator edits them in the VOS client."""
    if rng.random() >= fraction * 10:
        return groups
    groups = [dict(group) for group in groups]
    action = rng.choice(("memo", "add", "remove"))
    if action == "memo" and groups:
        rng.choice(groups)["memo"] = rng.choice(_MEMOS)
    elif action == "add":
        names = {group["name"] for group in groups}
        free = [name for name in _EXTRA_GROUPS if name not in names]
        if free:
            groups.append({"name": rng.choice(free), "memo": rng.choice(_MEMOS)})
    elif len(groups) > 1:
        groups.pop(rng.randrange(len(groups)))
    return groups


def drift_suites(rng: random.Random, suites: list[dict[str, Any]], fraction: float) -> list[dict[str, Any]]:
    """Now and then a suite's fee or memo changes, a suite is added (next id) or one is removed."""
    if rng.random() >= fraction * 10:
        return suites
    suites = [dict(suite) for suite in suites]
    action = rng.choice(("fee", "add", "remove"))
    if action == "fee" and suites:
        suite = rng.choice(suites)
        suite["rentFee"] = float(rng.choice((0, 9.9, 49, 99, 199, 999)))
        suite["memo"] = rng.choice(_MEMOS)
    elif action == "add":
        next_id = max((suite["id"] for suite in suites), default=0) + 1
        suites.append(
            {
                "id": next_id,
                "name": f"套餐 {next_id}",
                "rentPeriod": 1,
                "rentType": rng.choice((0, 1, 2)),
                "nonholonomicOrder": False,
                "rentFee": float(rng.choice((9.9, 99, 199))),
                "minConsumption": 0.0,
                "lowerConsumption": 0.0,
                "giftMoney": 0.0,
                "memo": rng.choice(_MEMOS),
            }
        )
    elif len(suites) > 1:
        suites.pop(rng.randrange(len(suites)))
    return suites


def fee_rate_groups(rng: random.Random) -> list[dict[str, Any]]:
    """`infoFeeRateGroups`: name and memo only (fakeMinute is not returned)."""
    base = ("国内标准", "国内VIP", "国际-批发", "Wholesale A", "Retail.CN", "港澳台", "夜间优惠", "测试 费率")
    count = rng.randint(5, len(base))
    return [{"name": name, "memo": rng.choice(_MEMOS)} for name in base[:count]]


def suites(rng: random.Random) -> list[dict[str, Any]]:
    """`infoSuites`; rentType 0 day, 1 month, 2 year, 3 one-off (rentPeriod then in seconds)."""
    plans = (
        *(("月租 99", 1), ("日租套餐", 0), ("年费 VIP", 2)),
        *(("Trial one-off", 3), ("月租 199 包 3000 分钟", 1)),
    )
    items = []
    for serial, (name, rent_type) in enumerate(plans[: rng.randint(3, len(plans))], start=1):
        item: dict[str, Any] = {
            "id": serial,
            "name": name,
            "rentPeriod": 86_400 * 7 if rent_type == 3 else 1,
            "rentType": rent_type,
            "nonholonomicOrder": rng.random() < 0.3,
            "rentFee": float(rng.choice((0, 9.9, 99, 199, 999))),
            "minConsumption": float(rng.choice((0, 50, 100))),
            "lowerConsumption": 0.0,
            "giftMoney": float(rng.choice((0, 0, 10, 50))),
            "memo": rng.choice(_MEMOS),
        }
        if rent_type == 1 and rng.random() < 0.5:
            item["infoGiftTimes"] = [
                {
                    "prefix": "86",
                    "startTime": 0,
                    "endTime": 86_399,
                    "giftTime": 180_000,
                    "billingTime": 60,
                    "memo": "国内赠送",
                }
            ]
        items.append(item)
    return items


def softswitches(ctx: InstanceContext, epoch_ms: int) -> list[dict[str, Any]]:
    """`infoSoftSwitches`: one softswitch per simulated VOS."""
    return [
        {
            "name": ctx.softswitch_name,
            "identification": f"VOS3000-{ctx.index + 1:04d}",
            "createTime": epoch_ms - 400 * 86_400_000,
            "ip": ctx.softswitch_ip,
        }
    ]
