from datetime import UTC, datetime, timedelta

from vosync.shared.catalogue import GatewayType
from vosync.writer.gateway_plan import ConfigSource, GatewayState, ScopePlan, Transition
from vosync.writer.gateway_rows import ConfigRow, OnlineRow

SCOPE = (1, GatewayType.MAPPING)
AT = datetime(2026, 3, 1, tzinfo=UTC)
SOURCE = ConfigSource(7, "infoGatewayMappings", "GetGatewayMapping", AT)
ONLINE_API = "GetGatewayMappingOnline"


def cfg(name: str) -> ConfigRow:
    return ConfigRow(name, 1, None, None, None, None, None, None, None, None)


def onl(name: str, calls: int = 1) -> OnlineRow:
    return OnlineRow(name, calls, 0.5, 60.0, None, None, None, {}, 1)


def state(gid: int, name: str, *, online: bool, config: bool = True, known: bool = True) -> GatewayState:
    return GatewayState(gid, name, online, config, known)


def plan_of(*states: GatewayState) -> ScopePlan:
    return ScopePlan.of(SCOPE, {s.name: s for s in states})


def test_config_removes_offline_rows_and_keeps_online_ones_marked() -> None:
    plan = plan_of(
        state(1, "kept", online=False),
        state(2, "gone", online=False),
        state(3, "online-gone", online=True),
        state(4, "online-only", online=True, config=False),
    )
    plan.apply_config([cfg("kept"), cfg("new")], SOURCE)
    assert plan.delete_ids == [2] and plan.transitions == []
    written = {row.name: row for row in plan.written()}
    assert set(written) == {"kept", "new", "online-gone"}  # online-only (4) is unchanged
    assert written["new"].id is None and written["new"].in_config and not written["new"].status_known
    assert not written["online-gone"].in_config and written["online-gone"].is_online
    assert written["kept"].config == cfg("kept") and written["kept"].config_source == SOURCE


def test_online_transitions_and_the_first_seen_rule() -> None:
    plan = plan_of(
        state(1, "was-off", online=False),
        state(2, "unknown", online=False, known=False),
        state(3, "stays-on", online=True),
        state(4, "goes-off", online=True),
        state(5, "unknown-off", online=False, known=False),
        state(6, "only-online", online=True, config=False),
        state(7, "quiet", online=False),
    )
    plan.apply_online([onl("was-off"), onl("unknown"), onl("stays-on"), onl("brand-new", 3)], AT, ONLINE_API)
    assert [(t.name, t.is_online, t.previous) for t in plan.transitions] == [
        ("was-off", True, False),
        ("unknown", True, None),
        ("brand-new", True, None),
        ("goes-off", False, True),
        ("only-online", False, True),
    ]
    assert plan.transitions[2] == Transition(SCOPE, "brand-new", True, None, AT, 0.5, 60.0, 3)
    assert plan.delete_ids == [6]  # neither configured nor online any more
    written = {row.name: row for row in plan.written()}
    assert "quiet" not in written  # known offline, still offline: nothing to write
    assert written["goes-off"].went_offline and written["goes-off"].online is None
    assert written["unknown-off"].status_known and written["unknown-off"].online_at == AT
    assert written["brand-new"].id is None and not written["brand-new"].in_config


def test_a_backlog_replayed_in_order_keeps_every_transition() -> None:
    plan = plan_of(state(1, "a", online=False), state(2, "b", online=True))
    t1, t2, t3 = AT, AT + timedelta(seconds=30), AT + timedelta(seconds=60)
    plan.apply_online([onl("a"), onl("b")], t1, ONLINE_API)
    plan.apply_online([], t2, ONLINE_API)
    plan.apply_online([onl("a", calls=9)], t3, ONLINE_API)
    assert [(t.name, t.is_online, t.previous, t.changed_at) for t in plan.transitions] == [
        ("a", True, False, t1),
        ("a", False, True, t2),
        ("b", False, True, t2),
        ("a", True, False, t3),
    ]
    rows = {row.name: row for row in plan.written()}
    assert rows["a"].is_online and rows["a"].changed_at == t3 and rows["a"].online == onl("a", calls=9)
    assert not rows["b"].is_online and rows["b"].went_offline


def test_an_unchanged_online_list_plans_no_transition() -> None:
    plan = plan_of(state(1, "a", online=True), state(2, "b", online=False))
    plan.apply_online([onl("a")], AT, ONLINE_API)
    assert plan.transitions == [] and plan.delete_ids == []
    assert [row.name for row in plan.written()] == ["a"]  # its data may have changed; the SQL decides


def test_a_gateway_removed_then_seen_online_is_a_new_online_only_row() -> None:
    plan = plan_of(state(1, "x", online=False))
    plan.apply_config([], SOURCE)
    plan.apply_online([onl("x")], AT, ONLINE_API)
    assert plan.delete_ids == [1]
    (row,) = plan.written()
    assert row.id is None and row.is_online and not row.in_config
    assert [(t.is_online, t.previous) for t in plan.transitions] == [(True, None)]
