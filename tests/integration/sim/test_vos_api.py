"""The VOS web API over HTTP: replies, filters, and how VOS answers bodies it cannot parse."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.sim.conftest import vos
from tests.support.vos_models import REPLY_MODELS
from vosync.sim.cluster import SimCluster

API_BODIES: dict[str, dict[str, Any] | None] = {
    "GetGatewayMapping": {},
    "GetGatewayMappingOnline": {},
    "GetGatewayRouting": {"names": None},
    "GetGatewayRoutingOnline": {},
    "GetAllPhoneOnline": {},
    "GetPhoneOnline": None,  # filled from GetAllPhoneOnline
    "GetFeeRateGroup": {},
    "GetSuite": {},
    "GetPerformance": {},
    "GetSoftSwitch": {},
}


async def test_every_api_reply_validates_against_the_vos_models(
    vos_sim: SimCluster, http: httpx.AsyncClient
) -> None:
    for base in vos_sim.urls:
        phones = (await vos(http, base, "GetAllPhoneOnline")).json()["e164s"]
        for api, body in API_BODIES.items():
            response = await vos(http, base, api, body if body is not None else {"e164s": phones[:5]})
            assert response.status_code == 200, api
            reply = REPLY_MODELS[api].model_validate_json(response.content, strict=True)
            assert reply.ok, (api, reply.exception)
            payload = response.json()
            assert next(iter(payload)) == "retCode"
            assert len(payload) == 2 and all(v for k, v in payload.items() if k != "retCode"), api


async def test_instances_serve_different_data(vos_sim: SimCluster, http: httpx.AsyncClient) -> None:
    first, second = [(await vos(http, base, "GetGatewayMapping")).content for base in vos_sim.urls]
    assert first != second


@pytest.mark.parametrize(
    "api", ["GetGatewayMapping", "GetGatewayMappingOnline", "GetGatewayRouting", "GetGatewayRoutingOnline"]
)
async def test_names_filter(vos_sim: SimCluster, http: httpx.AsyncClient, api: str) -> None:
    base = vos_sim.urls[0]
    everything = (await vos(http, base, api)).json()
    key = next(k for k in everything if k != "retCode")
    names = [item["name"] for item in everything[key]]
    assert len(names) >= 20
    assert (await vos(http, base, api, {"names": None})).json() == everything
    # VOS does not read `[]` as "all": it answers an empty list (yk-vos 598b899).
    assert (await vos(http, base, api, {"names": []})).json() == {"retCode": 0, key: []}
    picked = [names[7], "nobody", names[2]]
    filtered = (await vos(http, base, api, {"names": picked})).json()
    assert [item["name"] for item in filtered[key]] == [names[2], names[7]]
    assert filtered[key][0] == everything[key][2]
    assert (await vos(http, base, api, {"names": ["nobody"]})).json() == {"retCode": 0, key: []}


async def test_other_filters(vos_sim: SimCluster, http: httpx.AsyncClient) -> None:
    base = vos_sim.urls[0]
    groups = (await vos(http, base, "GetFeeRateGroup")).json()["infoFeeRateGroups"]
    only = (await vos(http, base, "GetFeeRateGroup", {"names": [groups[1]["name"]]})).json()
    assert only["infoFeeRateGroups"] == [groups[1]]
    suites = (await vos(http, base, "GetSuite", {"ids": [1, 3]})).json()["infoSuites"]
    assert [s["id"] for s in suites] == [1, 3]
    missing = (await vos(http, base, "GetPhoneOnline", {})).json()
    assert missing["retCode"] != 0 and "e164s" in missing["exception"]


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"   ",
        b"not json",
        b"[]",
        b"null",
        b'"text"',
        b"{broken",
        b"\xff\xfe",
        b'{"names": "a"}',
        b'{"names": [1]}',
    ],
)
async def test_unparseable_body_gets_an_empty_reply(
    vos_sim: SimCluster, http: httpx.AsyncClient, content: bytes
) -> None:
    response = await vos(http, vos_sim.urls[0], "GetGatewayMapping", content=content)
    assert response.status_code == 200
    assert response.content == b""


async def test_content_type_does_not_matter(vos_sim: SimCluster, http: httpx.AsyncClient) -> None:
    base = vos_sim.urls[0]
    expected = (await vos(http, base, "GetSuite")).content
    for content_type in ("application/x-www-form-urlencoded", "application/json", "text/plain"):
        response = await vos(http, base, "GetSuite", headers={"Content-Type": content_type})
        assert response.content == expected
    bare = await http.post(f"{base}/external/server/GetSuite", content=b"{}")
    assert bare.content == expected


async def test_unknown_api_is_a_missing_page(vos_sim: SimCluster, http: httpx.AsyncClient) -> None:
    response = await vos(http, vos_sim.urls[0], "GetNothing")
    assert response.status_code == 404
    assert (await http.post(f"{vos_sim.urls[0]}/external/other/GetSuite", content=b"{}")).status_code == 404


async def test_unicode_names_round_trip(vos_sim: SimCluster, http: httpx.AsyncClient) -> None:
    base = vos_sim.urls[0]
    names = [i["name"] for i in (await vos(http, base, "GetGatewayRouting")).json()["infoGatewayRoutings"]]
    chinese = next(n for n in names if any("\u4e00" <= ch <= "\u9fff" for ch in n))
    reply = (await vos(http, base, "GetGatewayRouting", {"names": [chinese]})).json()
    assert [i["name"] for i in reply["infoGatewayRoutings"]] == [chinese]
    assert chinese.encode() in (await vos(http, base, "GetGatewayRouting")).content, "UTF-8, not \\u escapes"
