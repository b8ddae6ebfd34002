"""The documented VOS3000 web API reply shapes (reference §3), as pydantic models.

Python names are snake_case; on the wire they are camelCase (`current_call` ⇄ `currentCall`), and
models accept either. Unknown fields are kept (`extra="allow"`): VOS builds differ and a reply is
stored whole. The `…Sip`/`…SIP` spelling difference between the manual and the VOS test pages is
accepted both ways. Only the fields vosync reads or that every build documents are declared; the
rest of a gateway's ~110 config fields pass through as extras.
"""

from __future__ import annotations

from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class VosModel(BaseModel):
    model_config = ConfigDict(extra="allow", alias_generator=to_camel, populate_by_name=True)


def _sip_spelling(test_page: str, manual: str) -> AliasChoices:
    return AliasChoices(test_page, manual)


class InfoGatewayMapping(VosModel):
    """GetGatewayMapping item: a customer-side (对接) gateway's config. No id, no online fields."""

    name: str
    lock_type: int | None = None  # 0 none, 1 out, 2 in, 3 all
    call_level: int | None = None
    capacity: int | None = None
    priority: int | None = None
    gateway_groups: str | None = None  # CSV
    routing_gateway_groups_allow: bool | None = None
    routing_gateway_groups: str | None = None
    register_type: int | None = None  # 0 static, 1 dynamic, 3 IMS
    remote_ips: str | None = None  # CSV of IPs
    rtp_forward_type: int | None = None
    max_call_duration_lower: int | None = None
    max_call_duration_upper: int | None = None
    callout_callee_prefixes: str | None = None
    callout_caller_prefixes: str | None = None
    rewrite_rules_out_callee: str | None = None
    rewrite_rules_out_caller: str | None = None
    dtmf_send_method_h323: int | None = None
    dtmf_send_method_sip: int | None = Field(
        None, validation_alias=_sip_spelling("dtmfSendMethodSip", "dtmfSendMethodSIP")
    )
    dtmf_receive_method: int | None = None
    dtmf_send_payload_type_h323: int | None = None
    dtmf_send_payload_type_sip: int | None = Field(
        None, validation_alias=_sip_spelling("dtmfSendPayloadTypeSip", "dtmfSendPayloadTypeSIP")
    )
    h323_call_proceeding_from_sip_trying: bool | None = Field(
        None,
        validation_alias=_sip_spelling("h323CallProceedingFromSipTrying", "h323CallProceedingFromSIPTrying"),
    )
    h323_alerting_from_sip183_sdp: bool | None = Field(
        None, validation_alias=_sip_spelling("h323AlertingFromSip183Sdp", "h323AlertingFromSIP183Sdp")
    )
    account: str | None = None
    account_name: str | None = None
    password: str | None = None
    customer_password: str | None = None
    h323_codecs: list[str] | None = None
    sip_codecs: list[str] | None = None
    first_route_policy: int | None = None
    second_route_policy: int | None = None
    softswitch_name: str | None = None  # unset = none, "" = all
    memo: str | None = None


class InfoGatewayRouting(VosModel):
    """GetGatewayRouting item: a carrier-side (落地) gateway's config. No id, no online fields."""

    name: str
    prefix: str | None = None  # CSV
    prefix_style: int | None = None  # 0 terminate, 1 continue
    register_type: int | None = None  # 0 static, 1 dynamic, 2 registers upstream, 3 IMS
    remote_ip: str | None = None
    protocol: int | None = None  # 0 H323, 1 SIP
    signal_port: int | None = None
    local_ip: str | None = None
    encrypt: bool | None = None
    lock_type: int | None = None
    capacity: int | None = None
    priority: int | None = None
    gateway_groups: str | None = None
    password: str | None = None
    customer_password: str | None = None
    callin_caller_prefixes: str | None = None
    callin_callee_prefixes: str | None = None
    rewrite_rules_in_caller: str | None = None
    rewrite_rules_in_callee: str | None = None
    rtp_forward_type: int | None = None
    dtmf_send_method_h323: int | None = None
    dtmf_send_method_sip: int | None = Field(
        None, validation_alias=_sip_spelling("dtmfSendMethodSip", "dtmfSendMethodSIP")
    )
    dtmf_send_payload_type_sip: int | None = Field(
        None, validation_alias=_sip_spelling("dtmfSendPayloadTypeSip", "dtmfSendPayloadTypeSIP")
    )
    sip_codecs: list[str] | None = None
    least_cost_routing: bool | None = None
    softswitch_name: str | None = None
    memo: str | None = None


class InfoGatewayMappingOnline(VosModel):
    """GetGatewayMappingOnline item. There is no online flag: a listed gateway is online."""

    id: int
    name: str
    current_call: int | None = None
    capacity: int | None = None
    asr: float | None = None  # unit not stated by the manual
    acd: float | None = None  # seconds
    remote_ips: str | None = None
    nat_ip: str | None = None
    local_ip: str | None = None
    register_time: int | None = None  # epoch ms, 0 = static
    update_time: int | None = None  # epoch ms, 0 = static
    keep_time: int | None = None  # seconds, 0 = static
    crypto_type: int | None = None  # 0 none, 1 RC4
    softswitch_name: str | None = None
    softswitch_ip: str | None = None


class InfoGatewayRoutingOnline(VosModel):
    """GetGatewayRoutingOnline item. There is no online flag: a listed gateway is online."""

    id: int
    name: str
    prefix: str | None = None
    current_call: int | None = None
    capacity: int | None = None
    asr: float | None = None
    response_ratio: float | None = None
    connected_ratio: float | None = None
    acd: float | None = None  # seconds
    remote_ip: str | None = None
    nat_ip: str | None = None
    local_ip: str | None = None
    register_time: int | None = None
    update_time: int | None = None
    keep_time: int | None = None
    crypto_type: int | None = None
    register_name: str | None = None
    retry_after: int | None = None  # ms the gateway stays disabled after a Retry-After
    softswitch_name: str | None = None
    softswitch_ip: str | None = None


class InfoPhoneOnline(VosModel):
    """GetPhoneOnline item."""

    e164: str
    current_call: int | None = None
    remote_ip: str | None = None
    local_ip: str | None = None
    register_time: int | None = None
    update_time: int | None = None
    protocol: int | None = None  # 0 H323, 1 SIP
    crypto_type: int | None = None
    product_id: str | None = None  # the device's name


class InfoFeeRateGroup(VosModel):
    name: str
    memo: str | None = None


class InfoGiftTime(VosModel):
    prefix: str | None = None
    start_time: int | None = None  # seconds of the day
    end_time: int | None = None
    gift_time: int | None = None
    billing_time: int | None = None
    memo: str | None = None


class InfoSuite(VosModel):
    id: int
    name: str
    rent_period: int | None = None
    rent_type: int | None = None  # 0 day, 1 month, 2 year, 3 one-off (rentPeriod in seconds)
    nonholonomic_order: bool | None = None
    rent_fee: float | None = None
    min_consumption: float | None = None
    lower_consumption: float | None = None
    gift_money: float | None = None
    info_gift_times: list[InfoGiftTime] | None = None
    memo: str | None = None


class InfoPerformance(VosModel):
    call_size: int | None = None  # concurrent calls
    cdr_queue_size: int | None = None


class InfoSoftSwitch(VosModel):
    name: str
    identification: str | None = None
    create_time: int | None = None


class VosReply(VosModel):
    """The envelope of every reply: retCode 0 = success, otherwise `exception` says why."""

    ret_code: int
    exception: str | None = None

    @property
    def ok(self) -> bool:
        return self.ret_code == 0


class GatewayMappingReply(VosReply):
    info_gateway_mappings: list[InfoGatewayMapping] = Field(default_factory=list)


class GatewayMappingOnlineReply(VosReply):
    info_gateway_mapping_onlines: list[InfoGatewayMappingOnline] = Field(default_factory=list)


class GatewayRoutingReply(VosReply):
    info_gateway_routings: list[InfoGatewayRouting] = Field(default_factory=list)


class GatewayRoutingOnlineReply(VosReply):
    info_gateway_routing_onlines: list[InfoGatewayRoutingOnline] = Field(default_factory=list)


class AllPhoneOnlineReply(VosReply):
    e164s: list[str] = Field(default_factory=list, alias="e164s")


class PhoneOnlineReply(VosReply):
    info_phone_onlines: list[InfoPhoneOnline] = Field(default_factory=list)


class FeeRateGroupReply(VosReply):
    info_fee_rate_groups: list[InfoFeeRateGroup] = Field(default_factory=list)


class SuiteReply(VosReply):
    info_suites: list[InfoSuite] = Field(default_factory=list)


class PerformanceReply(VosReply):
    info_performance: InfoPerformance | None = None


class SoftSwitchReply(VosReply):
    info_soft_switches: list[InfoSoftSwitch] = Field(default_factory=list)


REPLY_MODELS: dict[str, type[VosReply]] = {
    "GetGatewayMapping": GatewayMappingReply,
    "GetGatewayMappingOnline": GatewayMappingOnlineReply,
    "GetGatewayRouting": GatewayRoutingReply,
    "GetGatewayRoutingOnline": GatewayRoutingOnlineReply,
    "GetAllPhoneOnline": AllPhoneOnlineReply,
    "GetPhoneOnline": PhoneOnlineReply,
    "GetFeeRateGroup": FeeRateGroupReply,
    "GetSuite": SuiteReply,
    "GetPerformance": PerformanceReply,
    "GetSoftSwitch": SoftSwitchReply,
}
