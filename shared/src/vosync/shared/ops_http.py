"""A tiny HTTP endpoint for probes and Prometheus, for the services that serve no other HTTP.

GET /health (alive), /health/ready (the service's readiness check), /metrics (Prometheus text).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)

ReadyCheck = Callable[[], Awaitable[dict[str, bool]]]


class OpsServer:
    def __init__(
        self,
        host: str,
        port: int,
        ready: ReadyCheck,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self._host, self._port = host, port
        self._ready = ready
        self._registry = registry
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self._host, self._port)
        log.info("ops endpoint listening", extra={"url": f"http://{self._host}:{self.port}/health"})

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request_line.decode("latin-1").split()
            path = parts[1].split("?")[0] if len(parts) >= 2 else "/"
            status, ctype, body = await self._route(path)
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _route(self, path: str) -> tuple[str, str, bytes]:
        if path in ("/health", "/health/live"):
            return "200 OK", "application/json", b'{"status":"ok"}'
        if path == "/health/ready":
            try:
                checks = await asyncio.wait_for(self._ready(), 3)
            except Exception:  # a probe reports, it never raises
                checks = {"check": False}
            ok = all(checks.values())
            body = json.dumps({"status": "ok" if ok else "unavailable", "checks": checks}).encode()
            return ("200 OK" if ok else "503 Service Unavailable"), "application/json", body
        if path == "/metrics":
            return "200 OK", CONTENT_TYPE_LATEST, generate_latest(self._registry)
        return "404 Not Found", "application/json", b'{"error":"not found"}'
