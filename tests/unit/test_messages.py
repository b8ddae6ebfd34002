from datetime import UTC, datetime

import pydantic_core
import pytest
from pydantic import ValidationError

from vosync.shared.codec import (
    COMPRESS_ABOVE_BYTES,
    ENCODING_HEADER,
    REPLY_OFFSET_HEADER,
    decode,
    decode_result_lazily,
    encode,
)
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
    assert headers[ENCODING_HEADER] == "zlib" and len(body) < COMPRESS_ABOVE_BYTES
    assert decode(FetchResult, body, headers) == big
    small_body, small_headers = encode(_result())
    assert ENCODING_HEADER not in small_headers and decode(FetchResult, small_body) == _result()


def test_the_reply_is_last_and_its_offset_is_given_any_decoder_reads_the_body_whole() -> None:
    result = _result(response={"retCode": 0, "infoSuites": [{"name": "套餐", "price": 1.5}]})
    body, headers = encode(result)
    offset = int(headers[REPLY_OFFSET_HEADER])
    assert body[offset:-1] == pydantic_core.to_json(result.response)
    assert FetchResult.model_validate_json(body) == result == decode(FetchResult, body, headers)
    failure, failure_headers = encode(_result(ok=False, response=None, error="x"))
    assert REPLY_OFFSET_HEADER not in failure_headers and b'"response":null' in failure


def test_decode_result_lazily_leaves_the_reply_as_text() -> None:
    big = _result(response={"retCode": 0, "rows": ["x" * 100] * (COMPRESS_ABOVE_BYTES // 50)})
    for result in (_result(), big):
        body, headers = encode(result)
        lazy = decode_result_lazily(body, headers)
        assert lazy.response is None and lazy.reply_json == pydantic_core.to_json(result.response)
        assert lazy.model_copy(update={"response": result.response}).model_dump() == result.model_dump()
    # Without the header (another producer, an older poller), or with one that does not fit the
    # body, the result is decoded whole.
    plain = _result().model_dump_json().encode()
    assert decode_result_lazily(plain, {}) == _result()
    body, headers = encode(_result())
    for wrong in ("3", "999999", "x", str(int(headers[REPLY_OFFSET_HEADER]) - 1)):
        whole = decode_result_lazily(body, {REPLY_OFFSET_HEADER: wrong})
        assert whole == _result() and whole.reply_json is None
    with pytest.raises(ValidationError):
        decode_result_lazily(b'{"instance_id": 1,"response":{}}', {REPLY_OFFSET_HEADER: "18"})


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
