"""Every NATS channel of vosync, declared once: subject, payload model, stream, codec and headers.

The side that publishes and the side that consumes both take their subject, their stream and their
codec from the `Channel` here, and the AsyncAPI document is generated from the same declarations
(`vosync.shared.asyncapi`), so the contract cannot drift from the code.

Header names that more than one service reads or writes are spelled here and nowhere else.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from faststream.message import StreamMessage
from faststream.nats import JStream
from pydantic import BaseModel, ValidationError

from vosync.shared import codec
from vosync.shared.messages import (
    CacheChanged,
    FetchRequest,
    FetchResult,
    GatewayOnlineEvent,
    PhoneOnlineEvent,
)

M = TypeVar("M", bound=BaseModel)

# -- streams and queue groups -------------------------------------------------------------------
# Their configurations (limits, retention, replicas) are in vosync.shared.bus, which declares them.
RESULTS_STREAM = "VOS_RESULTS"
EVENTS_STREAM = "GATEWAY_EVENTS"
DEAD_LETTER_STREAM = "VOS_DEAD_LETTER"
WRITER_DURABLE = "writer"
FETCH_QUEUE = "pollers"

# -- header names -------------------------------------------------------------------------------
MSG_ID_HEADER = "Nats-Msg-Id"  # JetStream's de-duplication key (within the stream's duplicate window)
ENCODING_HEADER = codec.ENCODING_HEADER
REPLY_OFFSET_HEADER = codec.REPLY_OFFSET_HEADER
# An on-demand reply that carries no FetchResult has an empty body and these headers: a short reason,
# and the HTTP status the api should answer with (400 bad request, 403 write API, 404 unknown instance
# or API, 503 instance disabled / backing off / poller stopping).
FETCH_ERROR_HEADER = "Vosync-Error"
FETCH_ERROR_STATUS_HEADER = "Vosync-Error-Status"

# Added by the writer to a dead-lettered message (the original headers are kept).
DEAD_REASON_HEADER = "Vosync-Dead-Reason"
DEAD_STAGE_HEADER = "Vosync-Dead-Stage"
DEAD_SUBJECT_HEADER = "Vosync-Dead-Subject"
DEAD_STREAM_SEQ_HEADER = "Vosync-Dead-Stream-Seq"
DEAD_DELIVERIES_HEADER = "Vosync-Dead-Deliveries"
DEAD_ORIGINAL_MSG_ID_HEADER = "Vosync-Original-Msg-Id"

_CODEC_HEADERS = {
    ENCODING_HEADER: "`zlib` when the body is compressed (bodies above 128 KiB)",
}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class UndecodableMessage(ValueError):
    """A body that is not the channel's payload (bad JSON, bad zlib, or a failed validation)."""


@dataclass(frozen=True)
class Channel(Generic[M]):
    """One subject family and what travels on it."""

    name: str
    pattern: str  # "vos.result.{instance_id}.{api_name}": placeholders are single subject tokens
    model: type[M]
    description: str
    stream: str | None = None  # the JetStream stream that captures it (None: core NATS only)
    queue: str = ""  # the queue group of its consumers, when one consumer of a group is enough
    reply: type[BaseModel] | None = None  # request-reply: the model of the answer
    headers: Mapping[str, str] = field(default_factory=dict)  # header name -> meaning

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(_PLACEHOLDER.findall(self.pattern))

    @property
    def wildcard(self) -> str:
        """The subscription subject covering every subject of the channel (`*` per placeholder)."""
        return _PLACEHOLDER.sub("*", self.pattern)

    @property
    def stream_subject(self) -> str:
        """What a stream captures: everything under the channel's fixed prefix (`vos.result.>`)."""
        return self.pattern.split("{", 1)[0] + ">"

    def subject(self, **parts: object) -> str:
        missing = set(self.params) - set(parts)
        if missing:
            raise KeyError(f"{self.name}: subject needs {sorted(missing)}")
        return _PLACEHOLDER.sub(lambda m: str(parts[m.group(1)]), self.pattern)

    def encode(self, payload: M, **extra_headers: str) -> tuple[bytes, dict[str, str]]:
        """The body and headers as the channel carries them (codec headers included)."""
        if not isinstance(payload, self.model):
            raise TypeError(f"{self.name} carries {self.model.__name__}, not {type(payload).__name__}")
        body, headers = codec.encode(payload)
        return body, {**headers, **extra_headers}

    def decode(self, data: bytes, headers: Mapping[str, str] | None = None) -> M:
        try:
            return codec.decode(self.model, data, dict(headers or {}))
        except (ValidationError, ValueError, zlib.error) as exc:
            raise UndecodableMessage(f"not a {self.model.__name__}: {type(exc).__name__}: {exc}") from exc

    def jstream(self) -> JStream:
        """The channel's stream for a FastStream subscriber or publisher. `declare=False`: streams
        are declared with their full configuration by vosync.shared.bus, never by FastStream."""
        if self.stream is None:
            raise ValueError(f"{self.name} is core NATS, not in a stream")
        return JStream(self.stream, declare=False)

    async def decoder(self, msg: StreamMessage[Any]) -> M:
        """FastStream's decoder for this channel: `@broker.subscriber(..., decoder=ch.decoder)`."""
        return self.decode(msg.body, msg.headers)


RESULTS: Channel[FetchResult] = Channel(
    name="vos.result",
    pattern="vos.result.{instance_id}.{api_name}",
    model=FetchResult,
    stream=RESULTS_STREAM,
    description=(
        "Every VOS fetch outcome, success or failure, published by the poller that owns the instance "
        "(scheduled) or that served an on-demand fetch. Consumed by the writers' durable pull consumer "
        "`writer`. `response` is the VOS reply as VOS sent it; it is the last key of the body and its "
        "byte offset is in Vosync-Reply-Offset, so a consumer can store it without parsing it."
    ),
    headers={
        MSG_ID_HEADER: "`<instance_id>.<cache_key>.<fetched_at>`: a retried publish is stored once",
        **_CODEC_HEADERS,
        REPLY_OFFSET_HEADER: "byte offset of the `response` value in the (decompressed) body",
    },
)

FETCH: Channel[FetchRequest] = Channel(
    name="vos.fetch",
    pattern="vos.fetch.{instance_id}",
    model=FetchRequest,
    reply=FetchResult,
    queue=FETCH_QUEUE,
    description=(
        "On-demand fetch (request-reply, core NATS, outside every stream): the api asks, one poller "
        "of queue group `pollers` fetches from VOS, publishes the result to vos.result like a "
        "scheduled one and answers with the FetchResult. When no fetch happened the answer has an "
        "empty body and the headers Vosync-Error and Vosync-Error-Status."
    ),
    headers={
        FETCH_ERROR_HEADER: "on a refusal (empty body): one line saying why no fetch happened",
        FETCH_ERROR_STATUS_HEADER: "on a refusal: the HTTP status for the api (400, 403, 404, 502, 503)",
        **_CODEC_HEADERS,
        REPLY_OFFSET_HEADER: "on a FetchResult reply: byte offset of `response` in the body",
    },
)


def _outbox_events(name: str, pattern: str, model: type[M], description: str) -> Channel[M]:
    """A channel the writer's outbox relay publishes to: captured by EVENTS_STREAM, which drops a
    republished outbox id."""
    return Channel(
        name=name,
        pattern=pattern,
        model=model,
        stream=EVENTS_STREAM,
        description=description,
        headers={MSG_ID_HEADER: "the outbox id (= `event_id`)", **_CODEC_HEADERS},
    )


GATEWAY_ONLINE: Channel[GatewayOnlineEvent] = _outbox_events(
    name="gateway.online",
    pattern="gateway.online.{instance_id}.{gateway_type}",
    model=GatewayOnlineEvent,
    description=(
        "A gateway went online or offline (`is_online`, `previous`), with its figures at that moment. "
        "Published by the writer's outbox relay after the commit that saw the transition, in order "
        "per gateway; exactly one event per transition (the stream drops a republished outbox id)."
    ),
)

PHONE_ONLINE: Channel[PhoneOnlineEvent] = _outbox_events(
    name="phone.online",
    pattern="phone.online.{instance_id}",
    model=PhoneOnlineEvent,
    description=(
        "A phone registered or dropped (`is_online`, `previous`): online = listed by GetAllPhoneOnline. "
        "Published by the writer's outbox relay (the gateways' outbox) after the commit that saw the "
        "transition, in order per phone; exactly one event per transition."
    ),
)

CACHE_CHANGED: Channel[CacheChanged] = Channel(
    name="vos.cache.changed",
    pattern="vos.cache.changed.{instance_id}",
    model=CacheChanged,
    description=(
        "A hint (core NATS, no stream) sent by the writer after a commit: these cache keys of the "
        "instance changed. Every api replica hears it (no queue group) and drops its in-process copy."
    ),
    headers=dict(_CODEC_HEADERS),
)

DEAD_LETTER: Channel[FetchResult] = Channel(
    name="vos.dead",
    pattern="vos.dead.result.{instance_id}.{api_name}",
    model=FetchResult,
    stream=DEAD_LETTER_STREAM,
    description=(
        "Results the writer gave up on: the original body and headers, and why. The body is what "
        "was received, which may not be a valid FetchResult (stage `decode`)."
    ),
    headers={
        DEAD_REASON_HEADER: "one line saying what failed",
        DEAD_STAGE_HEADER: "decode (not a FetchResult), invalid (cannot be stored), apply (failed on "
        "its last delivery)",
        DEAD_SUBJECT_HEADER: "the subject it was published on",
        DEAD_STREAM_SEQ_HEADER: "its sequence in VOS_RESULTS",
        DEAD_DELIVERIES_HEADER: "how often it was delivered",
        DEAD_ORIGINAL_MSG_ID_HEADER: "its original Nats-Msg-Id",
        MSG_ID_HEADER: "`dead.<stream seq>`: dead-lettering one message twice stores it once",
    },
)

ALL: tuple[Channel[Any], ...] = (RESULTS, FETCH, GATEWAY_ONLINE, PHONE_ONLINE, CACHE_CHANGED, DEAD_LETTER)


INBOX_PREFIX = "_INBOX."


def metrics_label(subject: str) -> str:
    """A subject as its channel's wildcard (`vos.result.*.*`), for per-subject metrics: one series
    per channel, never one per instance, gateway type or reply inbox."""
    for ch in ALL:
        if subject.startswith(ch.pattern.split("{", 1)[0]):
            return ch.wildcard
    return "_INBOX.*" if subject.startswith(INBOX_PREFIX) else "other"
