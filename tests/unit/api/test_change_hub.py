"""The change hub merges the notes a client has not read yet into one set per kind, per instance."""

from __future__ import annotations

from vosync.api.domain.changes.service import ChangeHub
from vosync.shared.cache_key import cache_key
from vosync.shared.catalogue import API_PATH_PREFIX, Catalogue
from vosync.shared.messages import CacheChanged


def key(api_name: str) -> str:
    return cache_key(API_PATH_PREFIX + api_name, {})


def test_unread_notes_merge_and_a_change_wins_over_a_resync() -> None:
    hub = ChangeHub(Catalogue())
    mine, other = hub.subscribe(1), hub.subscribe(2)
    hub.publish(CacheChanged(instance_id=1, cache_keys=[key("GetGatewayRoutingOnline")]))
    hub.publish(CacheChanged(instance_id=1, cache_keys=[], synced_keys=[key("GetGatewayRoutingOnline")]))
    hub.publish(CacheChanged(instance_id=1, cache_keys=[key("GetGatewayMappingOnline")]))
    assert mine.wake.is_set() and not other.wake.is_set()
    assert mine.take() == (["GetGatewayMappingOnline", "GetGatewayRoutingOnline"], [])
    assert not mine.wake.is_set() and mine.take() == ([], [])
    hub.publish(CacheChanged(instance_id=1, cache_keys=["not-a-gateway-key"]))
    assert not mine.wake.is_set()
    hub.close_all()
    assert mine.closed and mine.wake.is_set() and hub.client_count == 0
