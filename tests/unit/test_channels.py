"""The channel declarations: subjects, codec and the wildcards the streams and subscribers use."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vosync.shared import bus, channels
from vosync.shared.channels import UndecodableMessage
from vosync.shared.messages import CacheChanged, FetchResult


def result(reply_bytes: int = 0) -> FetchResult:
    return FetchResult(
        instance_id=3,
        api_name="GetGatewayMappingOnline",
        api_path="/external/server/GetGatewayMappingOnline",
        cache_key="abc",
        ok=True,
        response={"retCode": 0, "pad": "x" * reply_bytes},
        fetched_at=datetime(2026, 12, 2, tzinfo=UTC),
    )


def test_subjects_follow_the_patterns() -> None:
    assert channels.RESULTS.subject(instance_id=3, api_name="GetX") == "vos.result.3.GetX"
    assert channels.FETCH.subject(instance_id=7) == "vos.fetch.7"
    online = channels.GATEWAY_ONLINE.subject(instance_id=1, gateway_type="routing")
    assert online == "gateway.online.1.routing"
    assert channels.CACHE_CHANGED.subject(instance_id=2) == "vos.cache.changed.2"
    assert channels.DEAD_LETTER.subject(instance_id=3, api_name="GetX") == bus.dead_letter_subject(
        bus.result_subject(3, "GetX")
    )


def test_a_subject_needs_every_part() -> None:
    with pytest.raises(KeyError, match="api_name"):
        channels.RESULTS.subject(instance_id=3)


def test_wildcards_are_the_subscriptions_and_the_stream_subjects() -> None:
    assert channels.FETCH.wildcard == "vos.fetch.*"
    assert channels.CACHE_CHANGED.wildcard == "vos.cache.changed.*"
    assert channels.RESULTS.stream_subject == bus.RESULT_SUBJECTS == "vos.result.>"
    assert channels.GATEWAY_ONLINE.stream_subject == bus.EVENT_SUBJECTS == "gateway.online.>"
    streams = {c.name: c.subjects for c in bus.stream_configs()}
    for channel in channels.ALL:
        if channel.stream is not None:
            assert channel.stream in streams, channel.name


@pytest.mark.parametrize("size", [0, 200_000])
def test_encode_then_decode_gives_the_payload_back(size: int) -> None:
    original = result(size)
    body, headers = channels.RESULTS.encode(original, **{channels.MSG_ID_HEADER: original.msg_id})
    assert headers[channels.MSG_ID_HEADER] == original.msg_id
    assert (channels.ENCODING_HEADER in headers) == (size > 0)
    assert channels.RESULTS.decode(body, headers) == original


def test_a_channel_carries_only_its_model() -> None:
    with pytest.raises(TypeError, match="FetchResult"):
        channels.RESULTS.encode(CacheChanged(instance_id=1, cache_keys=[]))  # type: ignore[arg-type]


def test_a_body_that_is_not_the_payload_is_undecodable() -> None:
    with pytest.raises(UndecodableMessage, match="not a CacheChanged"):
        channels.CACHE_CHANGED.decode(b'{"instance_id": "x"}')
    with pytest.raises(UndecodableMessage):
        channels.CACHE_CHANGED.decode(b"\x00garbage", {channels.ENCODING_HEADER: "zlib"})


def test_metrics_label_one_series_per_channel_not_per_subject() -> None:
    assert channels.metrics_label("vos.result.12.GetGatewayMapping") == "vos.result.*.*"
    assert channels.metrics_label("vos.dead.result.12.GetSuite") == "vos.dead.result.*.*"
    assert channels.metrics_label("gateway.online.3.routing") == "gateway.online.*.*"
    assert channels.metrics_label("vos.fetch.7") == "vos.fetch.*"
    assert channels.metrics_label("vos.cache.changed.7") == "vos.cache.changed.*"
    assert channels.metrics_label("_INBOX.abc123.456") == "_INBOX.*"
    assert channels.metrics_label("$JS.API.CONSUMER.INFO.X") == "other"
