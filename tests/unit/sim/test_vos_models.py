"""The pydantic models of the documented VOS reply shapes, checked against the simulator's replies."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, ValidationError

from tests.support.vos_models import (
    REPLY_MODELS,
    AllPhoneOnlineReply,
    GatewayMappingOnlineReply,
    GatewayMappingReply,
    GatewayRoutingOnlineReply,
    GatewayRoutingReply,
    InfoGatewayMapping,
    InfoGatewayRouting,
    PerformanceReply,
    VosReply,
)
from vosync.sim.datagen import MAPPING, ROUTING
from vosync.sim.state import InstanceState
from vosync.sim.vos_api import API_NAMES

# Fields VOS documents as optional; the simulator leaves them out, as a VOS build may.
OPTIONAL_ONLINE = frozenset({"nat_ip", "register_name", "retry_after"})


@pytest.fixture(scope="module")
def state() -> InstanceState:
    return InstanceState(0, 200, seed=21)


def undeclared_or_unset(model: BaseModel, optional: frozenset[str] = frozenset()) -> set[str]:
    return set(type(model).model_fields) - model.model_fields_set - optional


def test_every_simulated_api_has_a_reply_model() -> None:
    assert set(REPLY_MODELS) == set(API_NAMES)


def test_gateway_config_replies_validate_strictly_and_fill_the_declared_fields(state: InstanceState) -> None:
    mapping = GatewayMappingReply.model_validate_json(state.table(MAPPING).config_reply(None), strict=True)
    routing = GatewayRoutingReply.model_validate_json(state.table(ROUTING).config_reply(None), strict=True)
    assert mapping.ok and routing.ok
    assert len(mapping.info_gateway_mappings) == len(routing.info_gateway_routings) == 200
    for item in [*mapping.info_gateway_mappings, *routing.info_gateway_routings]:
        assert undeclared_or_unset(item) == set()
        assert item.model_extra, "undeclared VOS config fields are kept as extras"
    assert {r.protocol for r in routing.info_gateway_routings} == {0, 1}


def test_online_replies_validate_strictly_and_fill_every_documented_field(state: InstanceState) -> None:
    raw = {kind: state.table(kind).online_reply(None) for kind in (MAPPING, ROUTING)}
    mapping = GatewayMappingOnlineReply.model_validate_json(raw[MAPPING], strict=True)
    routing = GatewayRoutingOnlineReply.model_validate_json(raw[ROUTING], strict=True)
    assert mapping.info_gateway_mapping_onlines and routing.info_gateway_routing_onlines
    for item in [*mapping.info_gateway_mapping_onlines, *routing.info_gateway_routing_onlines]:
        assert undeclared_or_unset(item, OPTIONAL_ONLINE) == set()
        assert item.model_extra == {}, "the simulator sends no field the manual does not document"


@pytest.mark.parametrize(
    ("api", "reply"),
    [
        ("GetAllPhoneOnline", lambda s: s.all_phone_online_reply()),
        ("GetPhoneOnline", lambda s: s.phone_online_reply(json.loads(s.all_phone_online_reply())["e164s"])),
        ("GetFeeRateGroup", lambda s: s.fee_rate_group_reply(None)),
        ("GetSuite", lambda s: s.suite_reply(None)),
        ("GetPerformance", lambda s: s.performance_reply()),
        ("GetSoftSwitch", lambda s: s.softswitch_reply()),
    ],
)
def test_other_replies_validate_strictly(state: InstanceState, api: str, reply) -> None:  # type: ignore[no-untyped-def]
    model = REPLY_MODELS[api].model_validate_json(reply(state), strict=True)
    assert model.ok
    lists = [v for k, v in model if k not in {"ret_code", "exception"}]
    assert lists and all(lists), f"{api}: the payload is present and not empty"
    for value in lists:
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, BaseModel):
                assert undeclared_or_unset(item, frozenset({"info_gift_times"})) == set()


def test_failure_envelope() -> None:
    reply = VosReply.model_validate_json('{"retCode":-10007,"exception":"Not found, operation failed."}')
    assert not reply.ok and reply.exception == "Not found, operation failed."
    empty = GatewayMappingReply.model_validate({"retCode": -1})
    assert empty.info_gateway_mappings == []
    with pytest.raises(ValidationError):
        VosReply.model_validate({"exception": "no retCode"})


def test_sip_spelling_of_either_build_is_accepted() -> None:
    test_page = InfoGatewayMapping.model_validate({"name": "a", "dtmfSendMethodSip": 1})
    manual = InfoGatewayMapping.model_validate(
        {"name": "a", "dtmfSendMethodSIP": 2, "h323CallProceedingFromSIPTrying": True}
    )
    assert test_page.dtmf_send_method_sip == 1
    assert (manual.dtmf_send_method_sip, manual.h323_call_proceeding_from_sip_trying) == (2, True)
    routing = InfoGatewayRouting.model_validate({"name": "r", "dtmfSendPayloadTypeSIP": 101})
    assert routing.dtmf_send_payload_type_sip == 101


def test_documented_types_are_enforced() -> None:
    with pytest.raises(ValidationError):
        InfoGatewayRouting.model_validate_json('{"name":"r","protocol":"SIP"}')
    with pytest.raises(ValidationError):
        InfoGatewayRouting.model_validate_json('{"name":"r","signalPort":"5060"}', strict=True)
    with pytest.raises(ValidationError):
        InfoGatewayMapping.model_validate_json('{"name":"m","remoteIps":["1.2.3.4"]}')
    performance = PerformanceReply.model_validate_json('{"retCode":0,"infoPerformance":{"callSize":3}}')
    assert performance.info_performance is not None and performance.info_performance.call_size == 3
    assert AllPhoneOnlineReply.model_validate_json('{"retCode":0,"e164s":["8613800000000"]}').e164s
