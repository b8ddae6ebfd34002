import math

import pytest

from vosync.writer.vos_items import (
    Item,
    Problems,
    as_float,
    as_int,
    as_ip_list,
    as_name,
    as_protocol,
    as_text,
    find_key,
)


def test_keys_match_ignoring_case_and_the_exact_spelling_wins() -> None:
    reply = {"InfoGatewayMappings": [1], "infogatewaymappings": [2]}
    assert find_key(reply, "infoGatewayMappings") in {"InfoGatewayMappings", "infogatewaymappings"}
    assert find_key({"infoGatewayMappings": [], "INFOGATEWAYMAPPINGS": []}, "infoGatewayMappings") == (
        "infoGatewayMappings"
    )
    assert find_key({"retCode": 0}, "infoGatewayMappings") is None
    item = Item({"RemoteIps": "10.0.0.1", "dtmfSendMethodSIP": 1, "name": "a"})
    assert item.get("remoteIps") == "10.0.0.1"
    assert item.get("dtmfSendMethodSip") == 1
    assert item.get("name") == "a" and item.get("missing") is None


@pytest.mark.parametrize(
    ("value", "expected", "bad"),
    [
        (5, 5, False),
        ("60", 60, False),
        (" 7 ", 7, False),
        (12.0, 12, False),
        ("12.0", 12, False),
        (None, None, False),
        ("", None, False),
        (True, None, True),
        (12.5, None, True),
        ("x", None, True),
        (2**40, None, True),
        ([1], None, True),
        (math.inf, None, True),
    ],
)
def test_as_int(value: object, expected: int | None, bad: bool) -> None:
    problems = Problems()
    assert as_int(value, "capacity", problems) == expected
    assert bool(problems) is bad
    if bad:
        assert problems == {"bad_value:capacity": 1}


def test_as_float_and_as_text() -> None:
    problems = Problems()
    assert as_float(0.5, "asr", problems) == 0.5
    assert as_float("83", "acd", problems) == 83.0
    assert as_float(3, "acd", problems) == 3.0
    assert as_float(math.nan, "asr", problems) is None
    assert as_float(False, "asr", problems) is None
    assert as_float("n/a", "asr", problems) is None
    assert problems == {"bad_value:asr": 3}
    assert as_text("  a\x00b ", "name", problems) == "ab"
    assert as_text(1234, "name", problems) == "1234"
    assert as_text("   ", "name", problems) is None
    assert as_text({"x": 1}, "name", problems) is None
    assert as_text("x" * 300, "name", problems, 255) is None
    assert problems["bad_value:name"] == 1 and problems["too_long:name"] == 1


def test_remote_ips_csv_list_and_junk() -> None:
    problems = Problems()
    assert as_ip_list("10.0.0.1,10.0.0.2", "remoteIps", problems) == ["10.0.0.1", "10.0.0.2"]
    assert as_ip_list(" 10.0.0.1 ; 10.0.0.2 ,, ", "remoteIps", problems) == ["10.0.0.1", "10.0.0.2"]
    assert as_ip_list(["10.0.0.3", "10.0.0.4,10.0.0.5", 7], "remoteIps", problems) == [
        "10.0.0.3",
        "10.0.0.4",
        "10.0.0.5",
    ]
    assert as_ip_list("", "remoteIps", problems) is None
    assert as_ip_list(None, "remoteIps", problems) is None
    assert as_ip_list(17, "remoteIps", problems) is None
    assert problems == {"bad_value:remoteIps": 2}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "H323"),
        (1, "SIP"),
        ("1", "SIP"),
        ("sip", "SIP"),
        ("H323", "H323"),
        (None, None),
        (2, None),
        ([1], None),
    ],
)
def test_protocol(value: object, expected: str | None) -> None:
    assert as_protocol(value, Problems()) == expected


def test_names_are_kept_exactly() -> None:
    problems = Problems()
    assert as_name(" gw1 ", problems, 255) == " gw1 "
    assert as_name("   ", problems, 255) == "   "
    assert as_name("a\x00b", problems, 255) == "ab"  # PostgreSQL refuses NUL in text
    assert as_name("", problems, 255) is None and as_name(None, problems, 255) is None
    assert as_name(42, problems, 255) == "42"
    assert as_name(["x"], problems, 255) is None and as_name("x" * 256, problems, 255) is None
    assert problems["bad_value:name"] == 1 and problems["too_long:name"] == 1
