"""The control API under `/_sim/` (JSON in and out), for tests, benchmarks and the demo.

Errors are JSON too: `{"error": "..."}` with 400 for a bad body, 404 for an unknown path or gateway,
409 for a duplicate gateway.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from vosync.sim.datagen import KINDS
from vosync.sim.faults import FaultInputError
from vosync.sim.gateways import dumps
from vosync.sim.state import StateError

if TYPE_CHECKING:
    from vosync.sim.instance import SimInstance

PREFIX = "/_sim"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=dumps(data), content_type="application/json")


def _raw_json(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="application/json")


async def _body(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    raw = await request.read()
    if optional and not raw.strip():
        return {}
    try:
        body = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ControlError(400, f"body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ControlError(400, "body must be a JSON object")
    return body


def _kind(request: web.Request) -> str:
    kind = request.match_info["type"]
    if kind not in KINDS:
        raise ControlError(404, f"gateway type must be one of {', '.join(KINDS)}, not {kind!r}")
    return kind


def _bool(body: dict[str, Any], key: str, default: bool | None = None) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise ControlError(400, f"{key} must be true or false")
    return value


def _number(body: dict[str, Any], key: str, low: float, high: float) -> float:
    value = body.get(key)
    if not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high:
        raise ControlError(400, f"{key} must be a number from {low} to {high}")
    return float(value)


def _guard(handler: Handler) -> Handler:
    """Turn the errors a control action raises into JSON answers."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ControlError as exc:
            return _json({"error": str(exc)}, exc.status)
        except StateError as exc:
            return _json({"error": str(exc)}, exc.status)
        except FaultInputError as exc:
            return _json({"error": str(exc)}, 400)

    return guarded


class ControlApi:
    def __init__(self, instance: SimInstance) -> None:
        self.instance = instance

    def routes(self) -> list[web.RouteDef]:
        actions: list[tuple[str, str, Handler]] = [
            ("GET", "/info", self.info),
            ("GET", "/stats", self.stats),
            ("POST", "/stats/reset", self.reset_stats),
            ("GET", "/faults", self.faults),
            ("POST", "/faults", self.set_fault),
            ("DELETE", "/faults", self.clear_faults),
            ("GET", "/gateways", self.gateways),
            ("POST", "/gateways/{type}", self.add_gateway),
            ("POST", "/gateways/{type}/{name:.+}/online", self.set_online),
            ("POST", "/gateways/{type}/{name:.+}/stats", self.set_stats),
            ("DELETE", "/gateways/{type}/{name:.+}", self.remove_gateway),
            ("GET", "/phones", self.phones),
            ("POST", "/phones/{e164}/online", self.set_phone_online),
            ("GET", "/changes", self.changes),
            ("POST", "/changes", self.set_changes),
            ("POST", "/changes/tick", self.tick),
            ("POST", "/reset", self.reset),
        ]
        routes = [web.route(method, PREFIX + path, _guard(handler)) for method, path, handler in actions]
        # Last, so it only catches what no route above matched (wrong path or wrong method).
        routes.append(web.route("*", PREFIX + "/{tail:.*}", self.unknown))
        return routes

    async def unknown(self, request: web.Request) -> web.Response:
        return _json({"error": f"no control action {request.method} {request.path}"}, 404)

    async def info(self, request: web.Request) -> web.Response:
        inst = self.instance
        tables = inst.state.tables
        return _json(
            {
                "index": inst.index,
                "seed": inst.state.seed,
                "gateways": {k: {"total": len(t), "online": t.online_count} for k, t in tables.items()},
                "changes": inst.changes_json(),
            }
        )

    async def stats(self, request: web.Request) -> web.Response:
        calls = dict(sorted(self.instance.calls.items()))
        return _json({"calls": calls, "total": sum(calls.values())})

    async def reset_stats(self, request: web.Request) -> web.Response:
        self.instance.calls.clear()
        return _json({"calls": {}, "total": 0})

    async def faults(self, request: web.Request) -> web.Response:
        return _json(self.instance.faults.as_json())

    async def set_fault(self, request: web.Request) -> web.Response:
        faults = self.instance.faults
        faults.set(await _body(request))
        return _json(faults.as_json())

    async def clear_faults(self, request: web.Request) -> web.Response:
        self.instance.faults.clear()
        return _json({})

    async def gateways(self, request: web.Request) -> web.Response:
        return _raw_json(self.instance.state.truth())

    async def add_gateway(self, request: web.Request) -> web.Response:
        kind, body = _kind(request), await _body(request)
        name = body.pop("name", None)
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            raise ControlError(400, "name must be a non-blank string of at most 255 characters")
        online = _bool(body, "online", False)
        body.pop("online", None)
        gateway = self.instance.state.add_gateway(kind, name, online, body)
        return web.Response(status=201, body=gateway.truth(), content_type="application/json")

    async def set_online(self, request: web.Request) -> web.Response:
        kind, body = _kind(request), await _body(request)
        gateway = self.instance.state.set_online(kind, request.match_info["name"], _bool(body, "online"))
        return _raw_json(gateway.truth())

    async def set_stats(self, request: web.Request) -> web.Response:
        """`{"concurrent_calls": n, "asr": f, "acd": s}` (any subset) for an online gateway."""
        kind, body = _kind(request), await _body(request)
        unknown = sorted(body.keys() - {"concurrent_calls", "asr", "acd"})
        if unknown or not body:
            raise ControlError(400, "body must set some of concurrent_calls, asr, acd")
        figures: dict[str, Any] = {}
        if "concurrent_calls" in body:
            figures["concurrent_calls"] = int(_number(body, "concurrent_calls", 0, 1_000_000))
        if "asr" in body:
            figures["asr"] = round(_number(body, "asr", 0, 100), 2)
        if "acd" in body:
            figures["acd"] = int(_number(body, "acd", 0, 86_400))
        gateway = self.instance.state.set_stats(kind, request.match_info["name"], **figures)
        return _raw_json(gateway.truth())

    async def remove_gateway(self, request: web.Request) -> web.Response:
        kind, name = _kind(request), request.match_info["name"]
        self.instance.state.remove_gateway(kind, name)
        return _json({"removed": name, "type": kind})

    async def phones(self, request: web.Request) -> web.Response:
        """The online phones (as GetPhoneOnline lists them), the fee rate groups and the suites."""
        state = self.instance.state
        online = [state.phone_entry(e164) for e164 in state.online_phones()]
        return _json({"online": online, "fee_rate_groups": state.fee_rate_groups(), "suites": state.suites()})

    async def set_phone_online(self, request: web.Request) -> web.Response:
        """Register a phone (a new number too) or drop it: `{"online": true|false}`."""
        e164, body = request.match_info["e164"], await _body(request)
        if not e164.isdigit() or len(e164) > 32:
            raise ControlError(400, "e164 must be digits only, at most 32 of them")
        entry = self.instance.state.set_phone_online(e164, _bool(body, "online"))
        return _json({"e164": e164, "online": entry is not None, "entry": entry})

    async def changes(self, request: web.Request) -> web.Response:
        return _json(self.instance.changes_json())

    async def set_changes(self, request: web.Request) -> web.Response:
        body = await _body(request)
        interval = _number(body, "interval_s", 0, 86_400)
        fraction = _number(body, "fraction", 0, 1)
        self.instance.set_changes(interval, fraction)
        return _json(self.instance.changes_json())

    async def tick(self, request: web.Request) -> web.Response:
        """One drift step now (body optional: {"fraction": f}, default the configured fraction)."""
        body = await _body(request, optional=True)
        fraction = _number(body, "fraction", 0, 1) if "fraction" in body else self.instance.change_fraction
        return _json({"flipped": self.instance.state.drift(fraction)})

    async def reset(self, request: web.Request) -> web.Response:
        await self.instance.reset()
        return _json({"reset": True})
