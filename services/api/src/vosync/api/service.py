"""ApiService: the api as a Service (async start/stop), serving with uvicorn in the running loop.

Tests run it in-process on a free port (`api_port=0`, then `.port`); `vosync-api` runs it as a
process. Start-up opens the database and NATS first, so a broken dependency fails `start()` with the
real error instead of a uvicorn log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn

from vosync.api.app import create_app
from vosync.api.config import check_api_settings
from vosync.api.hot_reads import HotReads
from vosync.api.resources import ApiResources
from vosync.shared.settings import Settings

log = logging.getLogger(__name__)
START_TIMEOUT_S = 30.0
BACKLOG = 2048


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Signals belong to the process's run_main, which calls stop(); uvicorn must not take them.
        yield


class ApiService:
    def __init__(self, settings: Settings) -> None:
        check_api_settings(settings)
        self.settings = settings
        self.resources = ApiResources(settings)
        self.app = create_app(settings, self.resources)
        # What uvicorn serves: the hot reads from memory, everything else through Litestar.
        self.asgi = HotReads(self.app, self.resources, settings)
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        if self._server is None or not self._server.servers:
            raise RuntimeError("the api is not serving")
        port: int = self._server.servers[0].sockets[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        host = self.settings.api_host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        sock = self._bind()
        try:
            await self.resources.start()
        except BaseException:
            sock.close()
            raise
        config = uvicorn.Config(
            self.asgi,
            host=self.settings.api_host,
            port=self.settings.api_port,
            http="httptools",
            loop="none",
            lifespan="on",
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=3,
            backlog=BACKLOG,
        )
        self._server = server = _Server(config)
        self._task = asyncio.create_task(self._serve(server, sock), name="uvicorn")
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT_S
        while not server.started:
            if self._task.done() or asyncio.get_running_loop().time() > deadline:
                await self._abort_start()
            await asyncio.sleep(0.01)
        log.info("api listening", extra={"url": self.url})

    def _bind(self) -> socket.socket:
        """Our own listening socket: a taken port is a clear error here, not uvicorn's sys.exit."""
        host, port = self.settings.api_host, self.settings.api_port
        try:
            family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
            sock = socket.socket(family, kind, proto)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(address)
                sock.listen(BACKLOG)
            except OSError:
                sock.close()
                raise
        except OSError as exc:
            raise RuntimeError(f"the api could not listen on {host}:{port}: {exc.strerror or exc}") from exc
        sock.setblocking(False)
        return sock

    @staticmethod
    async def _serve(server: _Server, sock: socket.socket) -> None:
        try:
            await server.serve(sockets=[sock])
        except SystemExit as exc:  # uvicorn exits on start-up failures; a task must not
            raise RuntimeError(f"uvicorn could not start (exit code {exc.code})") from None
        finally:
            sock.close()

    async def stop(self) -> None:
        self.resources.end_event_streams()  # open SSE streams would hold uvicorn's shutdown
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await self._task
        self._server = None
        self._task = None
        await self.resources.stop()

    async def _abort_start(self) -> None:
        error: BaseException | None = None
        if self._task is not None and self._task.done() and not self._task.cancelled():
            error = self._task.exception()
        elif self._task is not None:
            self._task.cancel()
        await self.resources.stop()
        raise RuntimeError(
            f"the api could not serve on {self.settings.api_host}:{self.settings.api_port} (see the log)"
        ) from error
