from datetime import UTC, datetime, timedelta

import pytest

from vosync.shared.codec import decode_result_lazily, encode
from vosync.sim.replies import at, failed, mapping_item, ok, reply
from vosync.writer.cache_rows import CacheState, fold
from vosync.writer.jsontext import pg_json
from vosync.writer.results import InvalidResult, checked, is_full_snapshot, key_of, with_canonical_fields


def test_checked_rejects_what_cannot_be_stored_and_makes_times_aware() -> None:
    good = ok("GetSuite", {"retCode": 0})
    assert checked(good) is good
    naive = good.model_copy(update={"fetched_at": datetime(2026, 1, 1)})
    assert checked(naive).fetched_at == datetime(2026, 1, 1, tzinfo=UTC)
    for update in (
        {"cache_key": "abc"},
        {"instance_id": 0},
        {"api_path": ""},
        {"api_name": "x" * 200},
        {"response": None},
    ):
        with pytest.raises(InvalidResult):
            checked(good.model_copy(update=update))


def test_only_unfiltered_replies_are_full_snapshots() -> None:
    assert is_full_snapshot(ok("GetGatewayMapping", {}, params={}))
    # VOS answers `names: []` with an empty list: such a reply is not every gateway (issue 17).
    assert not is_full_snapshot(ok("GetGatewayMapping", {}, params={"names": []}))
    assert not is_full_snapshot(ok("GetGatewayMapping", {}, params={"names": ["a"]}))
    assert not is_full_snapshot(ok("GetGatewayMappingOnline", {}, params={"softswitchName": "ss1"}))


def test_sip_spellings_become_canonical() -> None:
    item = mapping_item("a")
    item["dtmfSendMethodSIP"] = item.pop("dtmfSendMethodSip")
    result = ok("GetGatewayMapping", reply("GetGatewayMapping", [item]))
    fixed = with_canonical_fields(result, "infoGatewayMappings")
    assert fixed.response is not None
    (out,) = fixed.response["infoGatewayMappings"]
    assert "dtmfSendMethodSip" in out and "dtmfSendMethodSIP" not in out
    canonical = ok("GetGatewayMapping", reply("GetGatewayMapping", [mapping_item("b")]))
    assert with_canonical_fields(canonical, "infoGatewayMappings") is canonical  # nothing to do, no copy


def test_a_reply_from_the_bus_keeps_its_text_unless_a_key_is_rewritten() -> None:
    named = mapping_item("SIP-trunk")  # "SIP" in the text, in a value only
    result = decode_result_lazily(*encode(ok("GetGatewayMapping", reply("GetGatewayMapping", [named]))))
    assert result.response is None and result.reply_json is not None
    assert with_canonical_fields(result, "infoGatewayMappings") is result  # its text goes to PostgreSQL

    spelt = mapping_item("b")
    spelt["dtmfSendMethodSIP"] = spelt.pop("dtmfSendMethodSip")
    result = decode_result_lazily(*encode(ok("GetGatewayMapping", reply("GetGatewayMapping", [spelt]))))
    fixed = with_canonical_fields(result, "infoGatewayMappings")
    assert fixed.reply_json is None and fixed.response is not None  # the old text is not stored
    (out,) = fixed.response["infoGatewayMappings"]
    assert "dtmfSendMethodSip" in out and "dtmfSendMethodSIP" not in out


def test_fold_ignores_older_than_the_row_and_keeps_the_newest_success() -> None:
    results = [
        ok("GetSuite", {"v": 3}, fetched_at=30),
        failed("GetSuite", fetched_at=40),
        ok("GetSuite", {"v": 1}, fetched_at=10),
    ]
    key = key_of(results[0])
    old = CacheState(1, "h", True, 0, None, None, at(5), last_attempt_at=at(20))
    folded = fold(key, results, old, ttl_s=60)
    assert folded is not None
    assert [r.fetched_at for r in folded.accepted] == [at(30), at(40)]
    columns = folded.columns()
    assert columns[5] == pg_json({"v": 3}).encode()  # data of the newest success
    assert columns[7:9] == ("ret_code", "Not found, operation failed.")  # error of the last attempt
    assert columns[9:14] == (at(30), at(30) + timedelta(seconds=60), at(40), at(40), 8.0)
    assert fold(key, [results[2]], old, ttl_s=60) is None  # everything older than the row


def test_a_reply_the_row_already_holds_is_not_sent_again() -> None:
    result = ok("GetSuite", {"v": 3}, fetched_at=30)
    key = key_of(result)
    sent = fold(key, [result], None, ttl_s=60)
    assert sent is not None
    text, content_hash = sent.columns()[5], sent.columns()[14]
    assert text == pg_json({"v": 3}).encode() and content_hash is not None and len(content_hash) == 32
    old = CacheState(1, content_hash, True, 0, None, None, at(5), last_attempt_at=at(20))
    again = fold(key, [result], old, ttl_s=60)
    assert again is not None
    assert again.columns()[5] is None and again.columns()[14] == content_hash  # hash, no reply
    changed = fold(key, [ok("GetSuite", {"v": 4}, fetched_at=30)], old, ttl_s=60)
    assert changed is not None and changed.columns()[5] == pg_json({"v": 4}).encode()


def test_pg_json_drops_what_jsonb_refuses() -> None:
    assert pg_json({"a": "x\x00y", "n": float("nan"), "中": 1}) == '{"a":"xy","n":null,"中":1}'
    assert pg_json({"a": "\\u0000 literal"}) == '{"a":"\\\\u0000 literal"}'


def test_outbox_payload_is_a_gateway_online_event() -> None:
    from vosync.shared.catalogue import GatewayType
    from vosync.shared.messages import GatewayOnlineEvent
    from vosync.writer.apply import _outbox_row
    from vosync.writer.gateway_plan import Transition

    transition = Transition((3, GatewayType.ROUTING), "r1", False, True, at(7), concurrent_calls=0)
    row = _outbox_row(transition)
    assert row[:6] == (3, "routing", "r1", False, True, at(7))
    event = GatewayOnlineEvent.model_validate_json(row[6])
    assert event == GatewayOnlineEvent(
        instance_id=3,
        gateway_type=GatewayType.ROUTING,
        gateway_name="r1",
        is_online=False,
        previous=True,
        changed_at=at(7),
        concurrent_calls=0,
    )
    assert '"changed_at":"2026-03-01T12:00:07Z"' in row[6]


def test_ret_code_out_of_range_is_invalid() -> None:
    with pytest.raises(InvalidResult):
        checked(failed("GetSuite", ret_code=2**40))


def test_outbox_payload_bytes_are_the_events_fields_in_order_without_event_id() -> None:
    from vosync.shared.catalogue import GatewayType
    from vosync.writer.apply import _outbox_row, _phone_outbox_row
    from vosync.writer.gateway_plan import Transition
    from vosync.writer.phone_plan import PhoneTransition

    online = Transition((3, GatewayType.MAPPING), "m\x001", True, None, at(7), 0.5, 12.0, 4)
    assert _outbox_row(online)[6] == (
        '{"instance_id":3,"gateway_type":"mapping","gateway_name":"m1","is_online":true,'
        '"previous":null,"changed_at":"2026-03-01T12:00:07Z","asr":0.5,"acd":12.0,"concurrent_calls":4}'
    )
    assert _phone_outbox_row(PhoneTransition(3, "8613800000000", True, False, at(7)))[6] == (
        '{"instance_id":3,"e164":"8613800000000","is_online":true,"previous":false,'
        '"changed_at":"2026-03-01T12:00:07Z"}'
    )
    offline = _phone_outbox_row(PhoneTransition(3, "8613800000000", False, True, at(8)))
    assert offline[6] == (
        '{"instance_id":3,"e164":"8613800000000","is_online":false,"previous":true,'
        '"changed_at":"2026-03-01T12:00:08Z","concurrent_calls":0}'
    )
    assert offline[:6] + offline[7:] == (3, "", "8613800000000", False, True, at(8), "phone")
