"""The AsyncAPI document of the whole system, generated from `vosync.shared.channels.ALL`.

A documentation-only NatsBroker (never connected) gets, per channel, a publisher and a subscriber
whose payload schema is the channel's pydantic model, titled with the service that publishes and
the one that consumes. `document()` is what `GET /schema/asyncapi.json` serves and what
docs/asyncapi.json holds (a unit test fails when the two differ).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from faststream import FastStream
from faststream.nats import NatsBroker
from faststream.specification import AsyncAPI

from vosync.shared import channels
from vosync.shared.channels import Channel

VERSION = "1.0.0"

# channel name -> (publishing service, consuming service)
SIDES: dict[str, tuple[str, str]] = {
    channels.RESULTS.name: ("poller", "writer"),
    channels.FETCH.name: ("api", "poller"),
    channels.GATEWAY_ONLINE.name: ("writer", "api"),
    channels.PHONE_ONLINE.name: ("writer", "api"),
    channels.CACHE_CHANGED.name: ("writer", "api"),
    channels.DEAD_LETTER.name: ("writer", "operator"),
}


def _description(ch: Channel[Any]) -> str:
    lines = [ch.description, "", f"Subject: `{ch.pattern}`."]
    if ch.stream:
        lines.append(f"Stream: `{ch.stream}`.")
    if ch.queue:
        lines.append(f"Queue group: `{ch.queue}`.")
    if ch.reply is not None:
        lines.append(f"Reply: {ch.reply.__name__}.")
    if ch.headers:
        lines.append("Headers: " + "; ".join(f"`{k}`: {v}" for k, v in ch.headers.items()) + ".")
    return "\n".join(lines)


def _declare(broker: NatsBroker, ch: Channel[Any]) -> None:
    publisher, consumer = SIDES.get(ch.name, ("?", "?"))
    description = _description(ch)
    broker.publisher(
        ch.pattern,
        title=f"{ch.pattern} (published by the {publisher})",
        description=description,
        schema=ch.model,
    )

    async def handler(payload: Any) -> None:  # documentation only: never called
        return None

    handler.__annotations__ = {"payload": ch.model, "return": None}
    handler.__name__ = handler.__qualname__ = ch.model.__name__
    broker.subscriber(
        ch.pattern,
        queue=ch.queue,
        title=f"{ch.pattern} (consumed by the {consumer})",
        description=description,
    )(handler)


DEFAULT_SERVERS = ("nats://localhost:4222",)  # the committed document's: NATS's default address


def public_servers(nats_url: str | None) -> tuple[str, ...]:
    """The NATS servers of a `VOSYNC_NATS_URL` as a document may show them: credentials removed.
    Unset (the embedded server, on a port chosen at start): the default address."""
    servers = []
    for url in (nats_url or "").split(","):
        parts = urlsplit(url.strip())
        if parts.hostname:
            host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
            port = f":{parts.port}" if parts.port else ""
            servers.append(f"{parts.scheme or 'nats'}://{host}{port}")
    return tuple(servers) or DEFAULT_SERVERS


def build_app(servers: tuple[str, ...] = DEFAULT_SERVERS) -> FastStream:
    broker = NatsBroker(list(servers), description="NATS (JetStream for the streams named per channel)")
    for ch in channels.ALL:
        _declare(broker, ch)
    return FastStream(broker, specification=AsyncAPI(title="vosync", version=VERSION))


@cache
def document_json(servers: tuple[str, ...] = DEFAULT_SERVERS) -> str:
    """The AsyncAPI document as JSON text (sorted keys, indented: stable for docs/asyncapi.json)."""
    raw = build_app(servers).schema.to_specification().to_json()
    return json.dumps(json.loads(raw), indent=2, sort_keys=True) + "\n"


def document(servers: tuple[str, ...] = DEFAULT_SERVERS) -> dict[str, Any]:
    return json.loads(document_json(servers))  # type: ignore[no-any-return]


def main() -> None:
    """`python -m vosync.shared.asyncapi > docs/asyncapi.json`"""
    print(document_json(), end="")


if __name__ == "__main__":
    main()
