"""Results decoded as the writer's consumer decodes them: the reply left as text until needed."""

from __future__ import annotations

import json

import asyncpg
import pytest

from tests.integration.writer.helpers import gateways
from vosync.shared.codec import decode_result_lazily, encode
from vosync.shared.messages import FetchResult
from vosync.sim.replies import mapping_item, ok, reply
from vosync.writer.apply import BatchApplier, Disposition
from vosync.writer.db import is_transient

MAP = "GetGatewayMapping"


def lazily(result: FetchResult) -> FetchResult:
    body, headers = encode(result)
    decoded = decode_result_lazily(body, headers)
    assert decoded.response is None and decoded.reply_json is not None
    return decoded


async def stored(conn: asyncpg.Connection) -> object:
    return json.loads(await conn.fetchval("SELECT response_data::text FROM vos_data_cache"))


async def test_the_reply_text_is_stored_and_projected_without_a_parsed_copy(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int
) -> None:
    result = ok(MAP, reply(MAP, [mapping_item("a", 1), mapping_item("b", 2)]), fetched_at=1)
    report = await applier.apply([lazily(result)])
    assert [o for _, o in report.outcomes] == [Disposition.APPLIED]
    assert await stored(pg_conn) == result.response
    rows = await gateways(pg_conn)
    assert set(rows) == {("mapping", "a"), ("mapping", "b")}
    assert rows[("mapping", "a")]["config_data"] == mapping_item("a", 1)
    # The same reply again, decoded lazily too: unchanged (same text, same hash).
    again = ok(MAP, reply(MAP, [mapping_item("a", 1), mapping_item("b", 2)]), fetched_at=2)
    report = await applier.apply([lazily(again)])
    assert [o for _, o in report.outcomes] == [Disposition.UNCHANGED]


async def test_manual_sip_spellings_in_a_lazy_reply_are_stored_canonical(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int
) -> None:
    item = mapping_item("s", 1)
    item["dtmfSendPayloadTypeSIP"] = item.pop("dtmfSendPayloadTypeSip")
    await applier.apply([lazily(ok(MAP, reply(MAP, [item]), fetched_at=1))])
    cached = json.dumps(await stored(pg_conn))
    assert "dtmfSendPayloadTypeSip" in cached and "dtmfSendPayloadTypeSIP" not in cached
    assert (await gateways(pg_conn))[("mapping", "s")]["config_data"]["dtmfSendPayloadTypeSip"] == 101


async def test_text_jsonb_refuses_is_cleaned_as_for_a_parsed_reply(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int
) -> None:
    item = mapping_item("n", 1, memo="a\x00b")
    await applier.apply([lazily(ok(MAP, reply(MAP, [item]), fetched_at=1))])
    assert (await gateways(pg_conn))[("mapping", "n")]["config_data"]["memo"] == "ab"
    assert "\\u0000" not in await pg_conn.fetchval("SELECT response_data::text FROM vos_data_cache")


async def test_a_reply_that_is_not_utf8_json_fails_its_batch_as_bad_data(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int
) -> None:
    """The reply's bytes go to PostgreSQL as they came: bytes that are not UTF-8 JSON are refused
    there as bad data (not as an outage), so the consumer isolates and dead-letters the message."""
    body, headers = encode(ok(MAP, reply(MAP, [mapping_item("u", 1, memo="zz")]), fetched_at=1))
    for broken in (body.replace(b'"zz"', b'"\xff\xfe"'), body.replace(b'"zz"', b"zz")):
        result = decode_result_lazily(broken, headers)
        assert result.reply_json is not None  # the envelope is fine: the reply is not looked at
        with pytest.raises(asyncpg.PostgresError) as raised:
            await applier.apply([result])
        assert not is_transient(raised.value)
    assert await pg_conn.fetchval("SELECT count(*) FROM vos_data_cache") == 0
    assert await gateways(pg_conn) == {}
