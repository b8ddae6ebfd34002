"""How a VOS HTTP answer is read (the client against the simulator is in tests/integration/poller)."""

import json

import pytest

from vosync.poller.vos_client import VosCall, classify_reply, normalise_reply
from vosync.shared.catalogue import Catalogue
from vosync.shared.messages import ErrorKind, FetchResult, utcnow


def test_success_is_a_json_object_with_ret_code_zero() -> None:
    out = classify_reply(200, json.dumps({"retCode": 0, "infoSuites": []}).encode())
    assert out.ok and out.ret_code == 0 and out.error_kind is None
    assert out.response == {"retCode": 0, "infoSuites": []}


def test_values_parse_as_json_loads_gives_them_and_a_bom_is_skipped() -> None:
    body = b'\xef\xbb\xbf{"retCode": 0, "big": 123456789012345678901234567890, "asr": NaN, '
    body += b'"v": "caf\xc3\xa9"}'
    out = classify_reply(200, body)
    assert out.ok and out.response is not None
    assert out.response["big"] == 123456789012345678901234567890 and out.response["v"] == "café"
    assert out.response["asr"] != out.response["asr"]  # NaN, as VOS may send it


def test_ret_code_failure_keeps_code_exception_and_reply() -> None:
    body = json.dumps({"retCode": -10007, "exception": "Not found, operation failed."}).encode()
    out = classify_reply(200, body)
    assert not out.ok and out.error_kind is ErrorKind.RET_CODE and out.ret_code == -10007
    assert out.error == "retCode -10007: Not found, operation failed."
    assert out.response == {"retCode": -10007, "exception": "Not found, operation failed."}


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (500, b'{"retCode":0}', ErrorKind.HTTP_STATUS),
        (404, b"<html>missing</html>", ErrorKind.HTTP_STATUS),
        (200, b"", ErrorKind.EMPTY_BODY),
        (200, b"  \r\n", ErrorKind.EMPTY_BODY),
        (200, b"<html>oops</html>", ErrorKind.BAD_JSON),
        (200, b'{"retCode": 0', ErrorKind.BAD_JSON),
        (200, b"\xff\xfe\x00garbage", ErrorKind.BAD_JSON),
        (200, b"[1, 2]", ErrorKind.BAD_JSON),
        (200, b'"text"', ErrorKind.BAD_JSON),
        (200, b'{"infoSuites": []}', ErrorKind.BAD_JSON),
        (200, b'{"retCode": "0"}', ErrorKind.BAD_JSON),
        (200, b'{"retCode": true}', ErrorKind.BAD_JSON),
        (200, b"[" * 100_000, ErrorKind.BAD_JSON),
        (200, b'{"retCode": 0, "name": "\\ud800"}', ErrorKind.BAD_JSON),  # could not be published
    ],
)
def test_failures_have_their_kind(status: int, body: bytes, kind: ErrorKind) -> None:
    out = classify_reply(status, body)
    assert not out.ok and out.error_kind is kind and out.error
    assert out.response is None and len(out.error) <= 301


def test_gateway_config_items_get_the_canonical_spelling() -> None:
    catalogue = Catalogue()
    reply = {"retCode": 0, "infoGatewayMappings": [{"name": "a", "dtmfSendMethodSIP": 1}]}
    assert normalise_reply(catalogue.spec("GetGatewayMapping"), reply)["infoGatewayMappings"] == [
        {"name": "a", "dtmfSendMethodSip": 1}
    ]
    routing = {"retCode": 0, "infoGatewayRoutings": [{"h323CallProceedingFromSIPTrying": True}]}
    assert normalise_reply(catalogue.spec("GetGatewayRouting"), routing)["infoGatewayRoutings"] == [
        {"h323CallProceedingFromSipTrying": True}
    ]
    other = {"retCode": 0, "infoSuites": [{"xSIP": 1}]}
    assert normalise_reply(catalogue.spec("GetSuite"), other) is other


def _call(kind: ErrorKind | None, status: int | None) -> VosCall:
    result = FetchResult(
        instance_id=1,
        api_name="GetSuite",
        api_path="/external/server/GetSuite",
        cache_key="k",
        ok=kind is None,
        error_kind=kind,
        fetched_at=utcnow(),
    )
    return VosCall(result, status)


def test_transport_failures_are_timeout_connect_and_5xx_only() -> None:
    assert _call(ErrorKind.TIMEOUT, None).transport_failure
    assert _call(ErrorKind.CONNECT, None).transport_failure
    assert _call(ErrorKind.HTTP_STATUS, 503).transport_failure
    assert not _call(ErrorKind.HTTP_STATUS, 404).transport_failure
    assert not _call(ErrorKind.RET_CODE, 200).transport_failure
    assert not _call(ErrorKind.BAD_JSON, 200).transport_failure
    assert not _call(ErrorKind.EMPTY_BODY, 200).transport_failure
    assert not _call(None, 200).transport_failure
