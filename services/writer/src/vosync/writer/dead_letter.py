"""The dead-letter stream: the raw message, its headers, and why the writer gave up on it.

Headers added (the original ones are kept):
  Vosync-Dead-Reason   one line saying what failed
  Vosync-Dead-Stage    decode (not a FetchResult), invalid (cannot be stored), apply (failed on its
                       last delivery)
  Vosync-Dead-Subject  the subject it was published on
  Vosync-Dead-Stream-Seq, Vosync-Dead-Deliveries
  Nats-Msg-Id          dead.<stream seq>, so dead-lettering one message twice stores it once
"""

from __future__ import annotations

import asyncio
import logging

from faststream.nats import NatsBroker
from faststream.nats.message import NatsMessage

from vosync.shared.bus import dead_letter_subject
from vosync.shared.channels import (
    DEAD_DELIVERIES_HEADER,
    DEAD_LETTER,
    DEAD_ORIGINAL_MSG_ID_HEADER,
    DEAD_REASON_HEADER,
    DEAD_STAGE_HEADER,
    DEAD_STREAM_SEQ_HEADER,
    DEAD_SUBJECT_HEADER,
    MSG_ID_HEADER,
)
from vosync.writer.metrics import WriterMetrics

log = logging.getLogger(__name__)

REASON = DEAD_REASON_HEADER
STAGE = DEAD_STAGE_HEADER
SUBJECT = DEAD_SUBJECT_HEADER
STREAM_SEQ = DEAD_STREAM_SEQ_HEADER
DELIVERIES = DEAD_DELIVERIES_HEADER
MSG_ID = MSG_ID_HEADER
ORIGINAL_MSG_ID = DEAD_ORIGINAL_MSG_ID_HEADER
ATTEMPTS = 5


def _header_value(text: str, limit: int = 1000) -> str:
    return " ".join(text.split())[:limit] or "-"


class DeadLetters:
    def __init__(self, broker: NatsBroker, metrics: WriterMetrics) -> None:
        self._broker = broker
        self._metrics = metrics

    async def send(self, message: NatsMessage, stage: str, reason: str) -> bool:
        """Store the message in the dead-letter stream and terminate it; False if it could not be stored."""
        msg = message.raw_message
        meta = msg.metadata
        headers = dict(msg.headers or {})
        if MSG_ID in headers:
            headers[ORIGINAL_MSG_ID] = headers.pop(MSG_ID)
        headers.update(
            {
                REASON: _header_value(reason),
                STAGE: stage,
                SUBJECT: msg.subject,
                STREAM_SEQ: str(meta.sequence.stream),
                DELIVERIES: str(meta.num_delivered),
                MSG_ID: f"dead.{meta.sequence.stream}",
            }
        )
        delay = 0.2
        for attempt in range(ATTEMPTS):
            try:
                await self._broker.publish(
                    msg.data,
                    dead_letter_subject(msg.subject),
                    headers=headers,
                    stream=DEAD_LETTER.stream,
                    timeout=5,
                )
                break
            except Exception as exc:  # NATS unavailable: retry a little, then leave it to redelivery
                if attempt == ATTEMPTS - 1:
                    log.error(
                        "dead-letter publish failed; message left for redelivery",
                        extra={"stream_seq": meta.sequence.stream, "error": repr(exc)},
                    )
                    return False
                await asyncio.sleep(delay)
                delay *= 2
        await message.reject()  # term: JetStream never delivers it again
        self._metrics.dead_lettered.labels(stage).inc()
        log.warning(
            "message dead-lettered",
            extra={
                "stage": stage,
                "reason": headers[REASON],
                "subject": msg.subject,
                "stream_seq": meta.sequence.stream,
                "deliveries": meta.num_delivered,
            },
        )
        return True
