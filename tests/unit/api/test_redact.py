"""Secrets in VOS data: every key ending in "password", any case, any depth."""

from typing import Any

from vosync.api.lib.redact import MASK, has_secret, redact


def test_masks_password_keys_at_any_depth_and_case() -> None:
    data: dict[str, Any] = {
        "retCode": 0,
        "infoGatewayMappings": [
            {"name": "a", "password": "p1", "customerPassword": "p2", "nested": {"SIPPASSWORD": "p3"}},
            {"name": "b", "passwordHint": "kept", "memo": ["password"]},
        ],
    }
    masked = redact(data)
    first, second = masked["infoGatewayMappings"]
    assert first["password"] == MASK and first["customerPassword"] == MASK
    assert first["nested"]["SIPPASSWORD"] == MASK
    assert second == {"name": "b", "passwordHint": "kept", "memo": ["password"]}  # values are not keys
    assert data["infoGatewayMappings"][0]["password"] == "p1"  # the input is untouched


def test_masks_whole_value_even_when_not_a_string() -> None:
    assert redact({"password": {"a": 1}, "x": [{"adminPassword": None}]}) == {
        "password": MASK,
        "x": [{"adminPassword": MASK}],
    }


def test_has_secret() -> None:
    assert has_secret([{"a": {"userPassword": ""}}])
    assert not has_secret({"a": ["password"], "b": {"pass": 1}})
