"""The gateway page: index.html at /, its assets under /static/ (files written by the page's owner)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import get
from litestar.response import File
from litestar.static_files import create_static_files_router

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"


@get("/", include_in_schema=False, media_type="text/html")
async def index() -> File:
    return File(STATIC_DIR / "index.html", content_disposition_type="inline", media_type="text/html")


def page_routers() -> list[Any]:
    assets = create_static_files_router(path="/static", directories=[STATIC_DIR], include_in_schema=False)
    return [index, assets]
