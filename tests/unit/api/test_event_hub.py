"""The SSE fan-out: filtering by instance, and a client that falls behind is dropped, not waited for."""

from datetime import UTC, datetime

from vosync.api.domain.events.service import CLIENT_QUEUE_SIZE, EventHub
from vosync.api.lib.metrics import ApiMetrics
from vosync.shared.catalogue import GatewayType
from vosync.shared.messages import GatewayOnlineEvent


def event(instance_id: int, n: int) -> GatewayOnlineEvent:
    return GatewayOnlineEvent(
        event_id=n,
        instance_id=instance_id,
        gateway_type=GatewayType.ROUTING,
        gateway_name=f"gw-{n}",
        is_online=bool(n % 2),
        changed_at=datetime.now(UTC),
    )


async def test_filter_by_instance() -> None:
    hub = EventHub(ApiMetrics())
    everything, only_two = hub.subscribe(None), hub.subscribe(2)
    hub.publish(event(1, 1))
    hub.publish(event(2, 2))
    assert [e.event_id for e in (everything.queue.get_nowait(), everything.queue.get_nowait()) if e] == [1, 2]
    item = only_two.queue.get_nowait()
    assert item is not None and item.event_id == 2 and only_two.queue.empty()
    assert '"gateway_name":"gw-2"' in item.json


async def test_slow_client_is_dropped_and_others_keep_receiving() -> None:
    metrics = ApiMetrics()
    hub = EventHub(metrics)
    slow, fast = hub.subscribe(None), hub.subscribe(None)
    for n in range(CLIENT_QUEUE_SIZE + 5):
        hub.publish(event(1, n))
        item = fast.queue.get_nowait()  # the fast client keeps up
        assert item is not None and item.event_id == n
    assert slow.dropped and hub.client_count == 1
    drained = [slow.queue.get_nowait() for _ in range(slow.queue.qsize())]
    assert drained[-1] is None  # its stream ends at the marker
    assert metrics.sse_dropped == 1


async def test_close_all_ends_every_stream() -> None:
    hub = EventHub(ApiMetrics())
    clients = [hub.subscribe(None) for _ in range(3)]
    hub.close_all()
    assert hub.client_count == 0 and all(c.queue.get_nowait() is None for c in clients)
