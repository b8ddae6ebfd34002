import pytest

from vosync.shared.catalogue import Catalogue, GatewayType, Projection, UnknownApiError, WriteApiError


def test_defaults_follow_the_design() -> None:
    cat = Catalogue()
    online = cat.spec("GetGatewayMappingOnline")
    assert (online.ttl_s, online.poll_interval_s, online.projection) == (30, 30, Projection.GATEWAY_ONLINE)
    mapping = cat.spec("GetGatewayMapping")
    assert (mapping.ttl_s, mapping.poll_interval_s, mapping.gateway_type) == (3600, 60, GatewayType.MAPPING)
    assert mapping.list_key == "infoGatewayMappings"
    assert cat.spec("GetGatewayRoutingOnline").list_key == "infoGatewayRoutingOnlines"
    assert cat.spec("GetSuite").poll_interval_s == 120
    assert cat.spec("GetCurrentCall").ttl_s == 300 and not cat.spec("GetCurrentCall").scheduled
    assert cat.spec("GetGatewayMapping").path == "/external/server/GetGatewayMapping"
    assert {s.name for s in cat.scheduled()} == {
        "GetGatewayMappingOnline",
        "GetGatewayRoutingOnline",
        "GetGatewayMapping",
        "GetGatewayRouting",
        "GetAllPhoneOnline",
        "GetFeeRateGroup",
        "GetSuite",
    }


def test_overrides_apply() -> None:
    cat = Catalogue({"GetGatewayMapping": 5, "GetPerformance": 10}, {"GetSuite": 7})
    assert cat.spec("GetGatewayMapping").poll_interval_s == 5
    assert cat.spec("GetPerformance").scheduled
    assert cat.spec("GetSuite").ttl_s == 7


def test_write_and_unknown_apis_are_refused() -> None:
    cat = Catalogue()
    with pytest.raises(WriteApiError):
        cat.spec("DeleteGatewayMapping")
    with pytest.raises(WriteApiError):
        cat.spec("Pay")
    with pytest.raises(UnknownApiError):
        cat.spec("GetNothingAtAll")
    assert cat.by_path("/external/server/GetSuite").name == "GetSuite"
