"""docs/asyncapi.json is what vosync.shared.asyncapi generates from the channels."""

from __future__ import annotations

from pathlib import Path

from vosync.shared import asyncapi, channels

DOC = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"


def test_committed_document_is_generated_from_the_channels() -> None:
    assert DOC.read_text() == asyncapi.document_json(), (
        "docs/asyncapi.json is stale: python -m vosync.shared.asyncapi > docs/asyncapi.json"
    )


def test_every_channel_is_published_and_consumed_with_its_model() -> None:
    doc = asyncapi.document()
    addresses = {c["address"] for c in doc["channels"].values()}
    assert addresses == {ch.pattern for ch in channels.ALL}
    assert {ch.model.__name__ for ch in channels.ALL} <= set(doc["components"]["schemas"])
    assert set(asyncapi.SIDES) == {ch.name for ch in channels.ALL}


def test_the_served_document_names_the_deployments_servers_without_credentials() -> None:
    servers = asyncapi.public_servers("nats://writer:s3cret@nats-1:4222, tls://nats-2.example:4443")
    assert servers == ("nats://nats-1:4222", "tls://nats-2.example:4443")
    hosts = {s["host"] for s in asyncapi.document(servers)["servers"].values()}
    assert hosts == {"nats-1:4222", "nats-2.example:4443"}
    assert "s3cret" not in asyncapi.document_json(servers)
    assert asyncapi.public_servers(None) == asyncapi.DEFAULT_SERVERS  # embedded: NATS's default address
