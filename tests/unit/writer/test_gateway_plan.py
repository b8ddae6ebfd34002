from datetime import UTC, datetime

from vosync.shared.catalogue import GatewayType
from vosync.writer.gateway_plan import GatewayState, Transition, plan_config, plan_online
from vosync.writer.gateway_rows import ConfigRow, OnlineRow

SCOPE = (1, GatewayType.MAPPING)
AT = datetime(2026, 3, 1, tzinfo=UTC)


def cfg(name: str) -> ConfigRow:
    return ConfigRow(name, 1, None, None, None, None, None, None, None, None)


def onl(name: str, calls: int = 1) -> OnlineRow:
    return OnlineRow(name, calls, 0.5, 60.0, None, None, None, "{}")


def state(gid: int, name: str, *, online: bool, config: bool = True, known: bool = True) -> GatewayState:
    return GatewayState(gid, name, online, config, known)


def test_config_removes_offline_rows_and_keeps_online_ones_marked() -> None:
    current = {
        "kept": state(1, "kept", online=False),
        "gone": state(2, "gone", online=False),
        "online-gone": state(3, "online-gone", online=True),
        "online-only": state(4, "online-only", online=True, config=False),
    }
    plan = plan_config([cfg("kept"), cfg("new")], current)
    assert [r.name for r in plan.upserts] == ["kept", "new"]
    assert plan.delete_ids == [2]
    assert plan.unconfig_ids == [3]  # online-only (4) is already marked


def test_online_transitions_and_the_first_seen_rule() -> None:
    current = {
        "was-off": state(1, "was-off", online=False),
        "unknown": state(2, "unknown", online=False, known=False),
        "stays-on": state(3, "stays-on", online=True),
        "goes-off": state(4, "goes-off", online=True),
        "unknown-off": state(5, "unknown-off", online=False, known=False),
        "only-online": state(6, "only-online", online=True, config=False),
        "quiet": state(7, "quiet", online=False),
    }
    plan = plan_online(
        SCOPE, [onl("was-off"), onl("unknown"), onl("stays-on"), onl("brand-new", 3)], current, AT
    )
    assert [(t.name, t.is_online, t.previous) for t in plan.transitions] == [
        ("was-off", True, False),
        ("unknown", True, None),
        ("brand-new", True, None),
        ("goes-off", False, True),
        ("only-online", False, True),
    ]
    assert plan.transitions[2] == Transition(SCOPE, "brand-new", True, None, AT, 0.5, 60.0, 3)
    assert sorted(plan.offline_ids) == [4, 5]  # goes offline; first observed offline (no event)
    assert plan.delete_ids == [6]  # neither configured nor online any more
    assert len(plan.upserts) == 4


def test_an_unchanged_online_list_plans_no_transition() -> None:
    current = {"a": state(1, "a", online=True), "b": state(2, "b", online=False)}
    plan = plan_online(SCOPE, [onl("a")], current, AT)
    assert plan.transitions == [] and plan.offline_ids == [] and plan.delete_ids == []
