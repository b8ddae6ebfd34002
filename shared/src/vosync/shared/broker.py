"""The FastStream broker every vosync service talks to NATS through.

`make_broker()` builds a `NatsBroker` whose connection is made by `bus.connect` (reconnects
forever, refuses wrong credentials at once, TLS and credentials from the settings), with
FastStream's Prometheus middleware on the service's registry. Subscribers and publishers are
declared on it by each service, from the channels of `vosync.shared.channels`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from faststream.message import StreamMessage
from faststream.nats import NatsBroker
from faststream.nats.prometheus.provider import NatsMetricsSettingsProvider, settings_provider_factory
from faststream.prometheus import ConsumeAttrs, PrometheusMiddleware
from faststream.response import PublishCommand
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from prometheus_client import CollectorRegistry

from vosync.shared import bus
from vosync.shared.channels import metrics_label
from vosync.shared.settings import Settings

log = logging.getLogger(__name__)

# Handlers still running when the broker stops get this long to finish (each service also bounds
# its own stop; the broker's default of 15 s would outlast the 10 s a stop may take).
GRACEFUL_TIMEOUT_S = 3.0


class VosyncBroker(NatsBroker):
    """A NatsBroker connected by `bus.connect` instead of a plain `nats.connect`."""

    def __init__(
        self,
        settings: Settings,
        client_name: str,
        *,
        on_reconnect: Callable[[], Awaitable[None]] | None = None,
        middlewares: Sequence[Any] = (),
        description: str | None = None,
    ) -> None:
        super().__init__(
            servers=[s.strip() for s in settings.require_nats_url().split(",")],
            name=client_name,
            graceful_timeout=GRACEFUL_TIMEOUT_S,
            middlewares=middlewares,
            description=description,
            # FastStream's per-message lines ("Received", "Processed") at DEBUG: one line per message
            # is noise; handler errors still log at ERROR.
            logger=logging.getLogger("vosync.bus"),
            log_level=logging.DEBUG,
        )
        self._settings = settings
        self._client_name = client_name
        self._on_reconnect = on_reconnect

    async def _connect(self) -> NatsClient:
        connection = await bus.connect(self._settings, self._client_name, on_reconnect=self._on_reconnect)
        self.config.connect(connection)
        return connection

    @property
    def client(self) -> NatsClient:
        """The nats-py client under the broker, for the few calls FastStream has no equivalent of
        (each listed with its reason in docs/architecture.md)."""
        connection = self._connection
        if connection is None:
            raise RuntimeError("broker not connected")
        return connection


class ChannelMetrics(NatsMetricsSettingsProvider):
    """FastStream's per-subject metrics, labelled by channel (`vos.result.*.*`) instead of by subject:
    a subject names an instance and a reply inbox is new for every request, so per-subject series
    would grow with the instances and without end with the requests."""

    __slots__ = ()

    def get_consume_attrs_from_message(self, msg: StreamMessage[Msg]) -> ConsumeAttrs:
        attrs = super().get_consume_attrs_from_message(msg)
        attrs["destination_name"] = metrics_label(attrs["destination_name"])
        return attrs

    def get_publish_destination_name_from_cmd(self, cmd: PublishCommand) -> str:
        return metrics_label(super().get_publish_destination_name_from_cmd(cmd))


def _metrics_provider(msg: Any) -> Any:
    if msg is None or isinstance(msg, Msg):
        return ChannelMetrics()
    return settings_provider_factory(msg)  # batches, KV and object-store messages: FastStream's own


def make_broker(
    settings: Settings,
    client_name: str,
    *,
    registry: CollectorRegistry | None = None,
    on_reconnect: Callable[[], Awaitable[None]] | None = None,
    description: str | None = None,
) -> VosyncBroker:
    middlewares = (
        [
            PrometheusMiddleware(
                settings_provider_factory=_metrics_provider,
                registry=registry,
                app_name=client_name,
                metrics_prefix="vosync_bus",
            )
        ]
        if registry is not None
        else []
    )
    return VosyncBroker(
        settings, client_name, on_reconnect=on_reconnect, middlewares=middlewares, description=description
    )
