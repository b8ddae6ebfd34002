from typing import Any

from vosync.shared.cache_key import cache_key


def test_empty_params_match_the_older_systems_key() -> None:
    assert cache_key("/external/server/GetGatewayMapping", {}) == "02ee49cb9d4a332771c0c0b97cde77de"
    assert cache_key("/external/server/GetGatewayMapping", None) == "02ee49cb9d4a332771c0c0b97cde77de"


def test_keys_are_sorted_and_non_ascii_is_kept() -> None:
    params = {"softswitchName": "ss1", "names": ["网关A"]}
    assert cache_key("/external/server/GetGatewayMappingOnline", params) == "2e4566373e92555c42a4bcaf169de0fa"


def test_different_params_give_different_keys() -> None:
    path = "/external/server/GetGatewayRouting"
    assert cache_key(path, {"names": ["a"]}) != cache_key(path, {"names": ["b"]})


def test_empty_list_filters_are_dropped_before_keying() -> None:
    from vosync.shared.cache_key import normalise_params

    path = "/external/server/GetGatewayMapping"
    cases: list[dict[str, Any]] = [{"names": []}, {"names": None}, {"names": [], "softswitchName": ""}]
    for params in cases:
        assert normalise_params("GetGatewayMapping", params) == {}
        assert cache_key(path, normalise_params("GetGatewayMapping", params)) == cache_key(path, {})
    assert normalise_params("GetSuite", {"ids": []}) == {}
    assert normalise_params("GetFeeRateGroup", {"names": ["a"], "x": []}) == {"names": ["a"], "x": []}
    # Only the list-filter APIs: another API's empty field is passed on as given.
    assert normalise_params("GetPhoneOnline", {"e164s": []}) == {"e164s": []}
    assert normalise_params("GetGatewayMappingOnline", None) == {}
