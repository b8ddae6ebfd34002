"""The publish backlog stays bounded by keeping the newest result per key."""

from datetime import UTC, datetime, timedelta

from vosync.poller.publisher import Backlog, Outgoing
from vosync.shared.messages import FetchResult

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _out(instance: int, key: str, n: int, size: int = 10) -> Outgoing:
    result = FetchResult(
        instance_id=instance,
        api_name="GetSuite",
        api_path="/external/server/GetSuite",
        cache_key=key,
        ok=True,
        response={"retCode": 0, "pad": "x" * size},
        fetched_at=T0 + timedelta(seconds=n),
        poller_id="p",
    )
    return Outgoing.of(result)


def test_outgoing_carries_subject_and_msg_id() -> None:
    item = _out(3, "abc", 1)
    assert item.subject == "vos.result.3.GetSuite"
    assert item.headers["Nats-Msg-Id"] == item.msg_id and item.msg_id.startswith("3.abc.")


def test_under_the_limit_everything_is_kept_in_order() -> None:
    backlog = Backlog(max_messages=10)
    items = [_out(1, "a", n) for n in range(5)]
    for item in items:
        assert backlog.push(item) == 0
    assert [backlog.pop() for _ in range(5)] == items and backlog.pop() is None and backlog.bytes == 0


def test_over_the_limit_only_the_newest_per_key_survives() -> None:
    backlog = Backlog(max_messages=4)
    for n in range(4):
        backlog.push(_out(1, "a", n))
    backlog.push(_out(2, "b", 0))  # fifth: compaction
    assert len(backlog) == 2 and backlog.dropped == 3
    kept = [backlog.pop(), backlog.pop()]
    assert [(k.key, k.msg_id) for k in kept if k] == [
        ((1, "a"), _out(1, "a", 3).msg_id),
        ((2, "b"), _out(2, "b", 0).msg_id),
    ]


def test_distinct_keys_beyond_the_limit_drop_the_oldest() -> None:
    backlog = Backlog(max_messages=3)
    for n in range(5):
        backlog.push(_out(n, f"k{n}", n))
    assert len(backlog) == 3 and backlog.dropped == 2
    first = backlog.pop()
    assert first is not None and first.key == (2, "k2")


def test_byte_limit() -> None:
    one = len(_out(0, "k0", 0, size=1000).body)
    backlog = Backlog(max_messages=1000, max_bytes=one * 3)
    for n in range(10):
        backlog.push(_out(n, f"k{n}", n, size=1000))
    assert len(backlog) == 3 and backlog.bytes <= one * 3
