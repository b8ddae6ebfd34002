"""`POST /external/server/<Name>`: the VOS web API as the JSP pages answer it.

The body is read raw whatever the Content-Type (the JSP does `JsonUtil.fromJson(request.getReader())`).
A body that is empty, not JSON, not an object, or has a request field of the wrong type makes the JSP
fail, and it then writes an empty response (HTTP 200, no body).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from vosync.sim.datagen import MAPPING, ROUTING
from vosync.sim.faults import FaultMode
from vosync.sim.state import InstanceState

if TYPE_CHECKING:
    from vosync.sim.instance import SimInstance

PATH_PREFIX = "/external/server/"
TIMEOUT_HOLD_S = 3600.0  # far beyond any client timeout
# A JSP page's default content type; clients must not depend on it (VOS bodies are JSON anyway).
_HEADERS = {"Content-Type": "text/html;charset=UTF-8"}
_TOMCAT_500 = (
    b"<html><head><title>Apache Tomcat/6.0.53 - Error report</title></head>"
    b"<body><h1>HTTP Status 500 - </h1><p>java.lang.NullPointerException</p></body></html>"
)
_TOMCAT_404 = (
    b"<html><head><title>Apache Tomcat/6.0.53 - Error report</title></head>"
    b"<body><h1>HTTP Status 404 - </h1></body></html>"
)
_CUT_JSON = b'{"retCode":0,"info'


class RequestFieldError(ValueError):
    """A request field of the wrong JSON type (the JSP's parse would throw)."""


def _strings(payload: dict[str, Any], key: str) -> list[str] | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RequestFieldError(key)
    return value


def _ints(payload: dict[str, Any], key: str) -> list[int] | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise RequestFieldError(key)
    return value


def _phone_online(state: InstanceState, payload: dict[str, Any]) -> bytes:
    e164s = _strings(payload, "e164s")
    if e164s is None:  # mandatory in the manual; the code and wording are the simulator's own
        return b'{"retCode":-10001,"exception":"Parameter e164s is required."}'
    return state.phone_online_reply(e164s)


Api = Callable[[InstanceState, dict[str, Any]], bytes]

APIS: dict[str, Api] = {
    "GetGatewayMapping": lambda s, p: s.table(MAPPING).config_reply(_strings(p, "names")),
    "GetGatewayMappingOnline": lambda s, p: s.table(MAPPING).online_reply(_strings(p, "names")),
    "GetGatewayRouting": lambda s, p: s.table(ROUTING).config_reply(_strings(p, "names")),
    "GetGatewayRoutingOnline": lambda s, p: s.table(ROUTING).online_reply(_strings(p, "names")),
    "GetAllPhoneOnline": lambda s, p: s.all_phone_online_reply(),
    "GetPhoneOnline": _phone_online,
    "GetFeeRateGroup": lambda s, p: s.fee_rate_group_reply(_strings(p, "names")),
    "GetSuite": lambda s, p: s.suite_reply(_ints(p, "ids")),
    "GetPerformance": lambda s, p: s.performance_reply(),
    "GetSoftSwitch": lambda s, p: s.softswitch_reply(),
}
API_NAMES = frozenset(APIS)


def _parse(body: bytes) -> dict[str, Any] | None:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


class VosApi:
    """The request handler bound to one instance."""

    def __init__(self, instance: SimInstance) -> None:
        self.instance = instance

    async def handle(self, request: web.Request) -> web.StreamResponse:
        instance = self.instance
        name = request.match_info["api"]
        instance.count_call(name)
        api = APIS.get(name)
        if api is None:
            return web.Response(status=404, body=_TOMCAT_404, headers=_HEADERS)
        body = await request.read()
        effect = instance.faults.effective(name)
        if effect.delay_s:
            await asyncio.sleep(effect.delay_s)
        if effect.mode is not FaultMode.NONE:
            return await self._fault(effect.mode, effect.ret_code, effect.exception)
        payload = _parse(body)
        if payload is None:
            return web.Response(body=b"", headers=_HEADERS)
        try:
            reply = api(instance.state, payload)
        except RequestFieldError:
            return web.Response(body=b"", headers=_HEADERS)
        return web.Response(body=reply, headers=_HEADERS)

    async def _fault(self, mode: FaultMode, ret_code: int, exception: str) -> web.Response:
        if mode is FaultMode.TIMEOUT:
            await self.instance.hold(TIMEOUT_HOLD_S)
            raise web.HTTPServiceUnavailable(text="simulator stopping")
        if mode is FaultMode.HTTP_500:
            return web.Response(status=500, body=_TOMCAT_500, headers=_HEADERS)
        if mode is FaultMode.INVALID_JSON:
            return web.Response(body=_CUT_JSON, headers=_HEADERS)
        if mode is FaultMode.EMPTY_BODY:
            return web.Response(body=b"", headers=_HEADERS)
        reply = json.dumps({"retCode": ret_code, "exception": exception}, ensure_ascii=False)
        return web.Response(body=reply.encode(), headers=_HEADERS)
