"""The baselines of benchmark 1: bare Litestar routes served exactly like the api.

Same server settings as `vosync-api` (uvicorn, one worker, uvloop, httptools, no access log, no
server header, backlog 2048), so that the only difference left is what the route does:

- `static`: POST and GET /reply answer the reply bytes held in memory (the limit for serving that
  payload); with `--content-encoding gzip` the bytes are an already compressed reply, sent as such;
- `pk`: POST /reply reads the same JSON by primary key with one asyncpg select and answers it.

    python -m benchmarks.baseline_server static --port P --body-file reply.json [--content-encoding gzip]
    python -m benchmarks.baseline_server pk --port P --database-url URL --row-id N
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import uvicorn
import uvloop
from litestar import Litestar, Response, get, post

PK_SELECT = "SELECT response_data::text FROM vos_data_cache WHERE id = $1"
POOL_SIZE = 10  # the api's engine pool size (vosync.shared.db.engine.make_engine)


def static_app(body: bytes, content_encoding: str | None = None) -> Litestar:
    headers = {"Content-Encoding": content_encoding} if content_encoding else None

    @post("/reply", status_code=200)
    async def reply() -> Response[bytes]:
        return Response(content=body, media_type="application/json", headers=headers)

    @get("/reply", status_code=200)
    async def reply_get() -> Response[bytes]:  # for GET routes (the gateway list)
        return Response(content=body, media_type="application/json", headers=headers)

    return Litestar([reply, reply_get], logging_config=None, debug=False)


def pk_app(dsn: str, row_id: int) -> Litestar:
    pools: list[asyncpg.Pool] = []

    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        pools.append(await asyncpg.create_pool(dsn, min_size=POOL_SIZE, max_size=POOL_SIZE))
        try:
            yield
        finally:
            await pools[0].close()

    @post("/reply", status_code=200)
    async def reply() -> Response[bytes]:
        text = await pools[0].fetchval(PK_SELECT, row_id)
        return Response(content=text.encode(), media_type="application/json")

    return Litestar([reply], lifespan=[lifespan], logging_config=None, debug=False)


def main() -> None:
    parser = argparse.ArgumentParser(prog="baseline_server")
    parser.add_argument("mode", choices=["static", "pk"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body-file", type=Path)
    parser.add_argument("--database-url")
    parser.add_argument("--row-id", type=int)
    parser.add_argument("--content-encoding", choices=["gzip"])
    args = parser.parse_args()
    if args.mode == "static":
        app = static_app(args.body_file.read_bytes(), args.content_encoding)
    else:
        app = pk_app(args.database_url.replace("postgresql+asyncpg://", "postgresql://"), args.row_id)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=args.port,
        http="httptools",
        loop="none",
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        backlog=2048,
    )
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(uvicorn.Server(config).serve())


if __name__ == "__main__":
    main()
