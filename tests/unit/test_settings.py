import pytest

from vosync.shared.settings import SettingsError, load_settings


def test_overrides_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOSYNC_NATS_URL", "nats://127.0.0.1:14222")
    monkeypatch.setenv("VOSYNC_DATABASE_URL", "postgresql://u@127.0.0.1:15432/vosync")
    monkeypatch.setenv("VOSYNC_API_PORT", "8123")
    monkeypatch.setenv("VOSYNC_AUTH", "off")
    monkeypatch.setenv("VOSYNC_API_KEYS", "k1:admin,k2:read,k3")
    monkeypatch.setenv("VOSYNC_POLL_INTERVALS", '{"GetGatewayMapping": 5}')
    monkeypatch.setenv("VOSYNC_CACHE_TTLS", '{"GetGatewayMappingOnline": 12.5}')
    monkeypatch.setenv("VOSYNC_POLLER_INSTANCES", "1,5")
    s = load_settings()
    assert s.nats_url == "nats://127.0.0.1:14222"
    assert s.database_url == "postgresql+asyncpg://u@127.0.0.1:15432/vosync"
    assert s.api_port == 8123 and s.auth == "off"
    assert s.api_keys == {"k1": "admin", "k2": "read", "k3": "read"}
    assert s.poller_instances == [1, 5]
    assert s.catalogue.spec("GetGatewayMapping").poll_interval_s == 5
    assert s.catalogue.spec("GetGatewayMappingOnline").ttl_s == 12.5


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("VOSYNC_POLL_INTERVALS", '{"GetGatewayMapping": -1}', "must be > 0"),
        ("VOSYNC_POLL_INTERVALS", '{"GetNoSuchThing": 5}', "unknown VOS API"),
        ("VOSYNC_CACHE_TTLS", '{"GetSuite": 0}', "must be > 0"),
        ("VOSYNC_POLL_INTERVALS", "not json", "VOSYNC_POLL_INTERVALS"),
        ("VOSYNC_AUTH", "maybe", "VOSYNC_AUTH"),
        ("VOSYNC_API_KEYS", "k1:root", "VOSYNC_API_KEYS"),
        ("VOSYNC_POLLER_INSTANCES", "1,x", "VOSYNC_POLLER_INSTANCES"),
        ("VOSYNC_DATABASE_URL", "mysql://x", "postgresql"),
        ("VOSYNC_API_STALE_WHILE_REVALIDATE_S", '{"GetSuite": -1}', "must be >= 0"),
        ("VOSYNC_API_STALE_WHILE_REVALIDATE_S", '{"GetNothing": 5}', "unknown VOS API"),
    ],
)
def test_bad_settings_are_rejected_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_stale_while_revalidate_defaults_to_the_poll_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOSYNC_POLL_INTERVALS", '{"GetSuite": 45}')
    monkeypatch.setenv("VOSYNC_API_STALE_WHILE_REVALIDATE_S", '{"GetGatewayMapping": 0}')
    settings = load_settings()
    assert settings.stale_while_revalidate_s("GetSuite") == 45
    assert settings.stale_while_revalidate_s("GetGatewayMapping") == 0  # turned off
    assert settings.stale_while_revalidate_s("GetGatewayMappingOnline") == 30  # the catalogue's poll
    assert settings.stale_while_revalidate_s("GetPerformance") == 0  # on demand: no poll, no window
    assert settings.stale_while_revalidate_s("DeleteGateway") == 0
