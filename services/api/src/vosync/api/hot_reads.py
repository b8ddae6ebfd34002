"""The two hottest reads answered from memory in front of Litestar: a gateway list page held in the
list cache and a fresh cached proxy read with no params.

Profiled per request (benchmark 1), Litestar's routing, middleware stack, parameter parsing,
dependency injection and response assembly cost several times what sending the held bytes does;
on these two reads that was the whole gap to a bare route. This ASGI wrapper answers a request
only when it can prove the reply: a canonical query it fully understands, a key the route
accepts, an entry held in memory (fresh, for the proxy). Anything else — another route, an unusual
query or body, a miss, a missing key under VOSYNC_AUTH=required — goes to Litestar unchanged, which
answers it (and fills the caches) as before. The reply itself is built by the same pure functions
the controllers use (`list_reply`, `proxy_reply`), with the same headers, and counted in the same
request metrics under the route's template.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast, get_args

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from vosync.api.config import API_PREFIX
from vosync.api.domain.gateways.reply import list_reply
from vosync.api.domain.gateways.schemas import GatewaySort, GatewayTypeName
from vosync.api.domain.proxy.reply import proxy_reply
from vosync.api.lib.auth import header_key
from vosync.api.lib.jsonutil import HeldReply
from vosync.api.lib.validate import MAX_DB_INT
from vosync.api.resources import ApiResources
from vosync.shared.settings import Role, Settings

_INSTANCES = f"{API_PREFIX}/instances/"
_GATEWAYS = "/gateways"
_PROXY = f"{API_PREFIX}/vos-api/instances/"
# The routes' templates as Litestar reports them (`path_template`), for the request metrics.
GATEWAYS_ROUTE = f"{API_PREFIX}/instances/{{instance_id}}/gateways"
PROXY_ROUTE = f"{API_PREFIX}/vos-api/instances/{{instance_id}}/{{api_name}}"
_SORTS = frozenset(get_args(GatewaySort))
_TYPES = frozenset(("mapping", "routing"))
_ONLINE = {"true": True, "false": False}
_MAX_LIMIT = 1000
_EMPTY_BODIES = (b"", b"{}")
_MAX_HELD_BODY = 64  # a larger body is not `{}`: not read here, Litestar reads it


def _canonical_int(text: str, low: int, high: int) -> int | None:
    """Plain decimal digits, no sign or leading zero, within [low, high]; else None."""
    if not text.isascii() or not text.isdigit() or (len(text) > 1 and text[0] == "0") or len(text) > 10:
        return None
    value = int(text)
    return value if low <= value <= high else None


def _instance_id(text: str) -> int | None:
    return _canonical_int(text, 1, MAX_DB_INT)


class _ListQuery:
    __slots__ = ("gateway_type", "limit", "offset", "online", "sort")

    def __init__(self) -> None:
        self.gateway_type: GatewayTypeName | None = None
        self.online: bool | None = None
        self.sort: GatewaySort = "name"
        self.limit = 100
        self.offset = 0


def parse_list_query(query: bytes) -> _ListQuery | None:
    """The list route's query when it is canonical (each known parameter at most once, plain values
    in range, no text search, nothing escaped); None sends the request to Litestar."""
    parsed = _ListQuery()
    if not query:
        return parsed
    try:
        text = query.decode("ascii")
    except UnicodeDecodeError:
        return None
    if "%" in text or "+" in text:
        return None
    seen: set[str] = set()
    for pair in text.split("&"):
        name, eq, value = pair.partition("=")
        if not eq or name in seen:
            return None
        seen.add(name)
        if name == "type" and value in _TYPES:
            parsed.gateway_type = cast(GatewayTypeName, value)
        elif name == "online" and value in _ONLINE:
            parsed.online = _ONLINE[value]
        elif name == "sort" and value in _SORTS:
            parsed.sort = cast(GatewaySort, value)
        elif name == "limit" and (limit := _canonical_int(value, 1, _MAX_LIMIT)) is not None:
            parsed.limit = limit
        elif name == "offset" and (offset := _canonical_int(value, 0, MAX_DB_INT)) is not None:
            parsed.offset = offset
        else:
            return None
    return parsed


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


class HotReads:
    """ASGI: the hot reads from memory, everything else to `app` (the Litestar app)."""

    def __init__(self, app: ASGIApp, resources: ApiResources, settings: Settings) -> None:
        self.app = app
        self._resources = resources
        self._required = settings.auth == "required"
        self._api_keys: Mapping[str, Role] = settings.api_keys
        self._metrics = resources.metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and self._resources.started:
            method, path = scope.get("method"), scope["path"]
            if method == "GET" and path.startswith(_INSTANCES) and path.endswith(_GATEWAYS):
                started = time.perf_counter()
                reply = self._gateway_list(scope, path)
                if reply is not None:
                    await self._send(reply, GATEWAYS_ROUTE, "GET", started, send)
                    return
            elif method == "POST" and path.startswith(_PROXY) and not scope.get("query_string"):
                started = time.perf_counter()
                body, receive = await _small_body(scope, receive)
                reply = self._proxy_read(scope, path) if body in _EMPTY_BODIES else None
                if reply is not None:
                    await self._send(reply, PROXY_ROUTE, "POST", started, send)
                    return
        await self.app(scope, receive, send)

    def _role(self, scope: Scope) -> tuple[bool, Role | None]:
        """(may read, role): a read route needs any configured key when auth is required."""
        key = header_key(scope)
        role = self._api_keys.get(key) if key else None
        return (role is not None or not self._required), role

    def _gateway_list(self, scope: Scope, path: str) -> HeldReply | None:
        instance_id = _instance_id(path[len(_INSTANCES) : -len(_GATEWAYS)])
        query = parse_list_query(scope.get("query_string", b""))
        if instance_id is None or query is None or not self._role(scope)[0]:
            return None
        services = self._resources.services
        instance = services.directory.cached(instance_id)
        if instance is None:
            return None
        cached = services.gateways.list_held(
            instance,
            gateway_type=query.gateway_type,
            online=query.online,
            q=None,
            sort=query.sort,
            limit=query.limit,
            offset=query.offset,
        )
        if cached is None:
            return None
        return list_reply(cached, _header(scope, b"if-none-match"), _header(scope, b"accept-encoding"))

    def _proxy_read(self, scope: Scope, path: str) -> HeldReply | None:
        instance_text, slash, api_name = path[len(_PROXY) :].partition("/")
        instance_id = _instance_id(instance_text)
        if instance_id is None or not slash or not api_name or "/" in api_name:
            return None
        may_read, role = self._role(scope)
        if not may_read:
            return None
        proxy = self._resources.proxy
        hit = proxy.fresh_hit(instance_id, api_name)
        if hit is None:
            return None
        info, cached = hit
        proxy.count_reply("database")
        return proxy_reply(
            info,
            cached,
            source="database",
            error=None,
            revalidating=False,
            unmasked=role == "admin",
            if_none_match=_header(scope, b"if-none-match"),
            accept_encoding=_header(scope, b"accept-encoding"),
            now=datetime.now(UTC),
        )

    async def _send(self, reply: HeldReply, route: str, method: str, started: float, send: Send) -> None:
        await send({"type": "http.response.start", "status": reply.status, "headers": reply.raw_headers()})
        self._metrics.observe_request(route, method, reply.status, time.perf_counter() - started)
        parts = reply.parts
        if not parts:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        last = len(parts) - 1
        for index, part in enumerate(parts):
            await send({"type": "http.response.body", "body": part, "more_body": index < last})


async def _small_body(scope: Scope, receive: Receive) -> tuple[bytes | None, Receive]:
    """The request body if it is at most _MAX_HELD_BODY bytes, and a `receive` that replays what
    was read, so Litestar sees the request whole when the hot path declines it."""
    length = _header(scope, b"content-length")
    if length is not None and (not length.isdigit() or int(length) > _MAX_HELD_BODY):
        return None, receive
    read: list[Any] = []  # receive's events
    body = b""
    while True:
        message = await receive()
        read.append(message)
        if message["type"] != "http.request":
            return None, _replay(read, receive)
        body += message.get("body", b"")
        if len(body) > _MAX_HELD_BODY:
            return None, _replay(read, receive)
        if not message.get("more_body", False):
            return body, _replay(read, receive)


def _replay(read: list[Any], receive: Receive) -> Receive:
    pending = list(read)

    async def replay() -> Any:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
