"""Start-up checks of the api's settings: refuse a configuration that would be unsafe or useless."""

from __future__ import annotations

import ipaddress

from vosync.shared.settings import Settings, SettingsError

API_PREFIX = "/api/v1"


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve to anything


def check_api_settings(settings: Settings) -> None:
    """Raise SettingsError (exit code 2 from `vosync-api`) with one readable sentence."""
    settings.require_nats_url()
    settings.require_database_url()
    if settings.auth == "off" and not is_loopback(settings.api_host):
        raise SettingsError(
            f"VOSYNC_AUTH=off is only allowed when the api binds to a loopback address, not"
            f" VOSYNC_API_HOST={settings.api_host!r}; set VOSYNC_API_KEYS (key:role,...) and"
            " VOSYNC_AUTH=required, or bind to 127.0.0.1"
        )
    if settings.auth == "required" and not settings.api_keys:
        raise SettingsError(
            "VOSYNC_AUTH=required but VOSYNC_API_KEYS is empty, so every request would be refused;"
            " set VOSYNC_API_KEYS=key:admin,key2:read (or VOSYNC_AUTH=off on a loopback host)"
        )
