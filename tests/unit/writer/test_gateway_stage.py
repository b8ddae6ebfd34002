"""The staging row of a gateway: where PostgreSQL finds its raw items."""

from datetime import UTC, datetime

from vosync.shared.catalogue import Catalogue, GatewayType
from vosync.writer import gateway_sql
from vosync.writer.gateway_plan import GatewayState, ScopePlan, StoredList
from vosync.writer.gateway_rows import OnlineRow

SCOPE = (1, GatewayType.MAPPING)
AT = datetime(2026, 3, 1, tzinfo=UTC)
APIS = gateway_sql.ApiNames(Catalogue())
LIST = StoredList(7, "infoGatewayMappingOnlines")
COLUMNS = gateway_sql.STAGE_COLUMN_NAMES


def online_row(name: str, ordinal: int, calls: int) -> OnlineRow:
    return OnlineRow(name, calls, 0.5, 60.0, None, None, None, {"name": name, "currentCall": calls}, ordinal)


def staged(plan: ScopePlan) -> dict[str, dict[str, object]]:
    return {
        row.name: dict(zip(COLUMNS, gateway_sql.stage_record(SCOPE, row, APIS), strict=True))
        for row in plan.written()
    }


def test_an_online_item_is_read_from_the_stored_list_by_its_position() -> None:
    plan = ScopePlan.of(SCOPE, {})
    plan.apply_online([online_row("a", 2, 5), online_row("b", 1, 0)], AT, "GetGatewayMappingOnline", LIST)
    rows = staged(plan)
    assert [(r["online_cache_id"], r["online_ord"], r["online_item"]) for r in rows.values()] == [
        (7, 2, None),
        (7, 1, None),
    ]
    assert gateway_sql.sources_args([(SCOPE, row) for row in plan.written()]) == (
        [],
        [],
        [7],
        [LIST.list_key],
    )


def test_an_online_item_whose_reply_is_not_stored_is_sent_as_json() -> None:
    plan = ScopePlan.of(SCOPE, {})
    plan.apply_online([online_row("a", 2, 5)], AT, "GetGatewayMappingOnline")
    (row,) = staged(plan).values()
    assert (row["online_cache_id"], row["online_ord"]) == (None, None)
    assert row["online_item"] == '{"name":"a","currentCall":5}'
    assert gateway_sql.sources_args([(SCOPE, r) for r in plan.written()]) == ([], [], [], [])


def test_a_gateway_gone_offline_has_no_online_item() -> None:
    plan = ScopePlan.of(SCOPE, {"a": GatewayState(3, "a", True, True, True)})
    plan.apply_online([], AT, "GetGatewayMappingOnline", LIST)
    (row,) = staged(plan).values()
    assert (row["set_online_data"], row["online_cache_id"], row["online_item"]) == (True, None, None)
