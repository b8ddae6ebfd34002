"""What a poller reports in its heartbeat as an instance's failure start (vosync status)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from vosync.poller.failure_log import FailureLog
from vosync.shared.messages import ErrorKind, FetchResult


def result(instance_id: int, api: str, ok: bool, params: dict[str, Any] | None = None) -> FetchResult:
    return FetchResult(
        instance_id=instance_id,
        api_name=api,
        api_path=f"/external/server/{api}",
        params=params or {},
        cache_key=f"{api}:{sorted((params or {}).items())}",
        ok=ok,
        error=None if ok else "boom",
        error_kind=None if ok else ErrorKind.CONNECT,
        fetched_at=datetime.now(UTC),
    )


def test_failing_since_is_the_oldest_scheduled_failure_and_edges_are_signalled() -> None:
    edges: list[None] = []
    failures = FailureLog("p", on_edge=lambda: edges.append(None))
    before = time.time()
    failures.observe(result(1, "GetSuite", ok=False))
    first = failures.failing_since(1)
    assert first is not None and before <= first <= time.time()
    failures.observe(result(1, "GetGatewayMapping", ok=False))
    failures.observe(result(1, "GetSuite", ok=False))  # still failing: no edge
    assert failures.failing_since(1) == first and len(edges) == 2
    assert failures.failing_since(2) is None

    failures.observe(result(1, "GetSuite", ok=True))
    later = failures.failing_since(1)
    assert later is not None and later >= first and len(edges) == 3
    failures.observe(result(1, "GetGatewayMapping", ok=True))
    assert failures.failing_since(1) is None and len(edges) == 4


def test_on_demand_failures_do_not_make_the_instance_failing() -> None:
    edges: list[None] = []
    failures = FailureLog("p", on_edge=lambda: edges.append(None))
    failures.observe(result(1, "GetGatewayMapping", ok=False, params={"names": ["x"]}))
    assert failures.failing_since(1) is None and edges == []


def test_forget_drops_an_instance_given_up() -> None:
    failures = FailureLog("p")
    failures.observe(result(1, "GetSuite", ok=False))
    failures.observe(result(2, "GetSuite", ok=False))
    failures.forget(1)
    assert failures.failing_since(1) is None and failures.failing_since(2) is not None
