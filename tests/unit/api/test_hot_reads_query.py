"""The hot path reads a gateway list query only when it is canonical; anything else is Litestar's."""

from __future__ import annotations

import pytest

from vosync.api.hot_reads import parse_list_query


def test_canonical_queries_are_read_in_any_order() -> None:
    empty = parse_list_query(b"")
    assert empty is not None
    assert (empty.gateway_type, empty.online, empty.sort, empty.limit, empty.offset) == (
        None,
        None,
        "name",
        100,
        0,
    )
    q = parse_list_query(b"offset=200&sort=-asr&online=false&type=routing&limit=1000")
    assert q is not None
    assert (q.gateway_type, q.online, q.sort, q.limit, q.offset) == ("routing", False, "-asr", 1000, 200)
    top = parse_list_query(b"limit=1&offset=2147483647&online=true")
    assert top is not None and (top.limit, top.offset, top.online) == (1, 2**31 - 1, True)


@pytest.mark.parametrize(
    "query",
    [
        b"limit=0",  # out of range: Litestar's 400
        b"limit=1001",
        b"offset=2147483648",
        b"limit=010",  # leading zero, sign, spaces: another spelling
        b"limit=+10",
        b"limit=1e2",
        b"limit=%31%30",  # escaped
        b"sort=%2Dname",
        b"q=gw",  # a text search always goes the long way
        b"type=mapping&type=routing",  # repeated
        b"type=Mapping",
        b"online=1",
        b"online=",
        b"limit",
        b"limit=10&",  # an empty pair
        b"api_key=k",  # unknown to this route
        b"sort=name+",
        "type=mapping\u00e9".encode(),
    ],
)
def test_anything_else_goes_to_litestar(query: bytes) -> None:
    assert parse_list_query(query) is None
