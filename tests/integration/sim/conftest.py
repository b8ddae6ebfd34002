"""HTTP helpers for the simulator tests: plain httpx against the VOS and control endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10.0) as client:
        yield client


async def vos(http: httpx.AsyncClient, base: str, api: str, body: Any = None, **kw: Any) -> httpx.Response:
    """POST a VOS API with `{}` (or the given JSON body) as VOS clients do."""
    content = kw.pop("content", None)
    if content is None:
        content = "{}" if body is None else httpx.Response(200, json=body).content
    headers = {"Content-Type": "text/html;charset=UTF-8", **kw.pop("headers", {})}
    return await http.post(f"{base}/external/server/{api}", content=content, headers=headers, **kw)
