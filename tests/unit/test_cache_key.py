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
