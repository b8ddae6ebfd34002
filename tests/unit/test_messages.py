from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from vosync.shared.codec import COMPRESS_ABOVE_BYTES, ENCODING_HEADER, decode, encode
from vosync.shared.messages import ErrorKind, FetchResult, GatewayOnlineEvent


def _result(**kw: object) -> FetchResult:
    base: dict[str, object] = {
        "instance_id": 1,
        "api_name": "GetSuite",
        "api_path": "/external/server/GetSuite",
        "cache_key": "k",
        "ok": True,
        "fetched_at": datetime(2026, 1, 1, tzinfo=UTC),
        "poller_id": "p1",
        "response": {"retCode": 0, "infoSuites": []},
    }
    base.update(kw)
    return FetchResult.model_validate(base)


def test_msg_id_is_stable_per_fetch() -> None:
    assert _result().msg_id == _result().msg_id
    assert _result().msg_id != _result(fetched_at=datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)).msg_id


def test_large_results_are_compressed_and_round_trip() -> None:
    big = _result(response={"retCode": 0, "rows": ["x" * 100] * (COMPRESS_ABOVE_BYTES // 50)})
    body, headers = encode(big)
    assert headers == {ENCODING_HEADER: "zlib"} and len(body) < COMPRESS_ABOVE_BYTES
    assert decode(FetchResult, body, headers) == big
    small_body, small_headers = encode(_result())
    assert small_headers == {} and decode(FetchResult, small_body) == _result()


def test_transport_errors() -> None:
    assert ErrorKind.TIMEOUT.is_transport and ErrorKind.HTTP_STATUS.is_transport
    assert not ErrorKind.RET_CODE.is_transport and not ErrorKind.BAD_JSON.is_transport


def test_decode_validates_as_validate_json_does() -> None:
    """decode parses then validates Python objects (faster): same models, same refusals."""
    result = _result(error_kind="timeout", ok=False, response=None, error="t")
    body, _ = encode(result)
    assert decode(FetchResult, body) == FetchResult.model_validate_json(body) == result
    event = b'{"instance_id": 1, "gateway_type": "routing", "gateway_name": "g", "is_online": true,'
    event += b' "changed_at": "2026-01-01T00:00:00Z", "extra": 1}'
    assert decode(GatewayOnlineEvent, event) == GatewayOnlineEvent.model_validate_json(event)
    for bad in (b"[1, 2]", b'{"instance_id": "x"}', b'{"gateway_type": "trunk"}'):
        with pytest.raises(ValidationError):
            decode(GatewayOnlineEvent, bad)
    with pytest.raises(ValueError):
        decode(FetchResult, b"{not json")
